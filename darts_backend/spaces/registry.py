"""The registry of darts_backend's spaces: name -> `BackendSpace`. It imports no space (and no torch) when imported.

A space module registers its `BackendSpace` with `register_backend_space` when imported; the built-in module is
listed here by name and imported on the first lookup (timm's ``_registry`` pattern), so that a new space is one
module and one registration, with no branch on its name elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nasspace.registry import Registry

from darts_backend.errors import ConfigError

__all__ = ["BUILTIN_MODULES", "BackendSpace", "register_backend_space", "backend_space", "backend_space_of",
           "list_backend_spaces"]

BUILTIN_MODULES = ("darts_backend.spaces.builtin",)


@dataclass(frozen=True)
class BackendSpace:
    """What darts_backend builds for one search space.

    Attributes:
        name: the `nasspace` space whose supernet this is (its run folders record it).
        genotypes: the `nasspace` spaces whose genotypes the discrete network takes (``darts``: ``darts``, ``flex``).
        supernet: ``(channels, cells, num_classes, generator, partial_channels, edge_normalization) -> nn.Module``,
            the weight-sharing network (``cells``: NB201 cells per stage, DARTS cells in all).
        network: ``(genotype, channels, cells, num_classes) -> nn.Module``, the discrete network of a genotype.
        alpha_shape: ``ops -> shape`` of one entry of the architecture weights (``(6, ops)``, ``(2, 14, ops)``).
        zero_cost_cells: the network size zero-cost proxies score at (NASLib's convention).
        flop_convention: how zero-cost FLOPs count (``naslib`` or ``macs``).
    """

    name: str
    genotypes: tuple[str, ...]
    supernet: Callable[..., Any]
    network: Callable[..., Any]
    alpha_shape: Callable[[int], tuple[int, ...]]
    zero_cost_cells: int
    flop_convention: str


_SPACES: Registry[BackendSpace] = Registry("space", BUILTIN_MODULES, error=ConfigError, valid="valid spaces", sort=False)


def register_backend_space(space: BackendSpace) -> BackendSpace:
    """Add ``space`` under its name (a second registration of the name replaces the first)."""
    return _SPACES.add(space.name, space)


def list_backend_spaces() -> list[str]:
    """Names of the spaces darts_backend builds supernets for, in registration order."""
    return _SPACES.names()


def backend_space(name: str) -> BackendSpace:
    """The space registered as ``name``.

    Raises:
        ConfigError: an unknown name; lists the registered ones.
    """
    return _SPACES.get(name)


def backend_space_of(genotype_space: str) -> BackendSpace:
    """The space whose discrete network takes genotypes of ``genotype_space`` (``flex`` -> ``darts``).

    Raises:
        ConfigError: no registered space builds networks of such genotypes.
    """
    spaces = _SPACES.values()
    for space in spaces:
        if genotype_space in space.genotypes:
            return space
    valid = sorted(g for s in spaces for g in s.genotypes)
    raise ConfigError(f"no discrete network for space {genotype_space!r}; valid: {', '.join(valid)}")
