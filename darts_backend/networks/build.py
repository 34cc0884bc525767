"""The discrete network of a genotype of any space, by its space (`nasspace` genotypes in, ``nn.Module`` out)."""

from __future__ import annotations

from torch import nn

from nasspace.space import Genotype
from darts_backend.errors import ConfigError

__all__ = ["build_network"]


def build_network(genotype: Genotype, *, channels: int, cells: int, num_classes: int) -> nn.Module:
    """The discrete network of ``genotype``: NB201's macro network, or the DARTS-space one.

    Args:
        genotype: an ``nb201``, ``darts`` or ``flex`` genotype.
        channels: C of the first stage (NB201) or of the first cells (DARTS space).
        cells: NB201: cells per stage N; DARTS space: cells in all (a flex genotype fixes its own).
        num_classes: classifier outputs.

    Returns:
        A module mapping ``(B, 3, H, W)`` images to ``(B, num_classes)`` logits, with a ``genotype`` attribute.

    Raises:
        ValueError: a genotype of another space.
    """
    from darts_backend.networks.darts import DartsNetwork
    from darts_backend.networks.nb201 import NB201Network

    if genotype.space_name == "nb201":
        return NB201Network(genotype, C=channels, N=cells, num_classes=num_classes)  # type: ignore[arg-type]
    if genotype.space_name in ("darts", "flex"):
        return DartsNetwork(genotype, C=channels, num_cells=cells, num_classes=num_classes)
    raise ConfigError(f"no discrete network for space {genotype.space_name!r}; valid: nb201, darts, flex")
