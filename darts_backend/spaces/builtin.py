"""The built-in spaces of darts_backend: NAS-Bench-201 and the DARTS space (its ``flex`` genotypes included)."""

from __future__ import annotations

from typing import Any

from darts_backend.spaces.registry import BackendSpace, register_backend_space

__all__ = ["NB201", "DARTS"]


def _nb201_supernet(*, channels: int, cells: int, num_classes: int, generator: Any = None, partial_channels: int = 1,
                    edge_normalization: bool = False) -> Any:
    from darts_backend.supernets import NB201SearchNetwork

    return NB201SearchNetwork(C=channels, N=cells, num_classes=num_classes, generator=generator,
                              partial_channels=partial_channels, edge_normalization=edge_normalization)


def _nb201_network(genotype: Any, *, channels: int, cells: int, num_classes: int) -> Any:
    from darts_backend.networks.nb201 import NB201Network

    return NB201Network(genotype, C=channels, N=cells, num_classes=num_classes)


def _darts_supernet(*, channels: int, cells: int, num_classes: int, generator: Any = None, partial_channels: int = 1,
                    edge_normalization: bool = False) -> Any:
    from darts_backend.supernets import DartsSearchNetwork

    return DartsSearchNetwork(C=channels, num_cells=cells, mode="shared", num_classes=num_classes, generator=generator,
                              partial_channels=partial_channels, edge_normalization=edge_normalization)


def _darts_network(genotype: Any, *, channels: int, cells: int, num_classes: int) -> Any:
    from darts_backend.networks.darts import DartsNetwork

    return DartsNetwork(genotype, C=channels, num_cells=cells, num_classes=num_classes)


NB201 = register_backend_space(BackendSpace(
    name="nb201", genotypes=("nb201",), supernet=_nb201_supernet, network=_nb201_network,
    alpha_shape=lambda ops: (6, ops), zero_cost_cells=5, flop_convention="naslib"))
DARTS = register_backend_space(BackendSpace(
    name="darts", genotypes=("darts", "flex"), supernet=_darts_supernet, network=_darts_network,
    alpha_shape=lambda ops: (2, 14, ops), zero_cost_cells=8, flop_convention="macs"))
