"""The cells the latent models train on, per space, as each space's adapter gives them (`crlso.models.spaces`).

Enumerable spaces train on every cell; the others on the cells their adapter lists (NB101 and DARTS: see
`crlso.models.spaces.builtin`; a large choice space: a seeded sample). The cells and their PyG batch are built
once per process, space and data folder.
"""

from __future__ import annotations

from functools import lru_cache

from torch_geometric.data import Batch

from crlso.models.graphs import batch_genotypes, featurizer_for
from crlso.models.spaces import get_adapter
from nasspace import Genotype
from nasspace.fetch import DataStore

__all__ = ["is_enumerated", "training_cells", "training_cells_batch"]


def is_enumerated(space_name: str) -> bool:
    """Whether a space's training cells are all of its cells (``nb201``, the TransNAS micro cells, ...)."""
    return get_adapter(space_name).enumerated


def training_cells(space_name: str, store: DataStore | None = None) -> tuple[Genotype, ...]:
    """The training cells of a space, in a fixed order.

    Raises:
        ValueError: the space has no adapter; lists the spaces that have one.
        DataError: a data file of the training cells (``darts``, ``nb101``) is not fetched.
    """
    return training_cells_batch(space_name, store)[0]


def training_cells_batch(space_name: str, store: DataStore | None = None) -> tuple[tuple[Genotype, ...], Batch]:
    """The training cells and their PyG batch."""
    adapter = get_adapter(space_name)
    data_dir = None if adapter.enumerated else str((store if store is not None else DataStore()).data_dir.resolve())
    return _cells_batch(space_name, adapter.cache_tag, data_dir)


@lru_cache(maxsize=4)
def _cells_batch(space_name: str, tag: tuple[str, ...], data_dir: str | None) -> tuple[tuple[Genotype, ...], Batch]:
    cells = get_adapter(space_name).training_cells(data_dir)
    return cells, batch_genotypes(cells, featurizer_for(space_name))
