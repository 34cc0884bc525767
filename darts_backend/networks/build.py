"""The discrete network of a genotype of any space, by its space (`nasspace` genotypes in, ``nn.Module`` out)."""

from __future__ import annotations

from torch import nn

from nasspace.space import Genotype

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
    from darts_backend.spaces import backend_space_of

    return backend_space_of(genotype.space_name).network(genotype, channels=channels, cells=cells, num_classes=num_classes)
