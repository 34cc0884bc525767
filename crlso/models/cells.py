"""The cells the latent models train on, per space.

- Enumerable spaces (``nb201``): every cell, in ``space.enumerate()`` order (`all_cells_batch`).
- ``nb101`` (423,624 cells): 10,000 cells sampled from the space, seeded, then NASLib's labelled
  NB101 cells not among them (genotypes only; `crlso.models.nb101.cells`).
- ``darts`` (about 10^18 genotypes): the 11,221 unlabelled DARTS genotypes of NASLib's
  ``archs_nasbench301.json`` (file order), then the 500 NAS-Bench-301 cells of NASLib's zero-cost
  file (table order). Only the genotypes are used here, never their labels. The two sets are
  disjoint; duplicates (by ``str``) would be kept once.

Note the DARTS files differ in how a node lists its two pairs: the unlabelled genotypes always
list the smaller input first, the NB301 cells do so in about half of the nodes only. The strings
are kept as the files give them (the NB301 table is keyed by them).
"""

from __future__ import annotations

from functools import lru_cache

from torch_geometric.data import Batch

from crlso.models.graphs import all_cells_batch, batch_genotypes, featurizer_for
from nasspace import Genotype
from nasspace.fetch import DataStore

__all__ = ["TRAINING_SOURCES", "is_enumerated", "training_cells", "training_cells_batch"]

# Non-enumerable space -> the data files (manifest names) its training cells come from.
TRAINING_SOURCES: dict[str, tuple[str, ...]] = {"darts": ("naslib-archs-nb301", "naslib-zc-nb301"),
                                                 "nb101": ("naslib-zc-nb101", "nb101-sampled-10000-seed0-v1")}
_ENUMERABLE = ("nb201",)


def _valid_spaces() -> str:
    return ", ".join((*_ENUMERABLE, *TRAINING_SOURCES))


def is_enumerated(space_name: str) -> bool:
    """Whether a space's training cells are all of its cells (``nb201``)."""
    return space_name in _ENUMERABLE


def training_cells(space_name: str, store: DataStore | None = None) -> tuple[Genotype, ...]:
    """The training cells of a space (see the module doc), in a fixed order.

    Args:
        space_name: ``nb201``, ``nb101`` or ``darts``.
        store: where the data files are (default: the default data folder); unused for ``nb201``.

    Raises:
        ValueError: no training cells are defined for the space; lists the spaces that have them.
        DataError: a data file of ``darts`` is not fetched.
    """
    return training_cells_batch(space_name, store)[0]


def training_cells_batch(space_name: str, store: DataStore | None = None) -> tuple[tuple[Genotype, ...], Batch]:
    """The training cells and their PyG batch; built once per process, space and data folder."""
    if space_name in _ENUMERABLE:
        return all_cells_batch(space_name)
    if space_name not in TRAINING_SOURCES:
        raise ValueError(f"no training cells for space {space_name!r}; valid: {_valid_spaces()}")
    store = store if store is not None else DataStore()
    if space_name == "nb101":
        return _nb101_cells_batch(str(store.data_dir.resolve()))
    return _darts_cells_batch(str(store.data_dir.resolve()))


@lru_cache(maxsize=2)
def _nb101_cells_batch(data_dir: str) -> tuple[tuple[Genotype, ...], Batch]:
    from crlso.models.nb101.cells import nb101_training_cells, training_source_tag

    assert TRAINING_SOURCES["nb101"][1] == training_source_tag()
    cells = nb101_training_cells(DataStore(data_dir))
    return cells, batch_genotypes(cells, featurizer_for("nb101"))


@lru_cache(maxsize=2)
def _darts_cells_batch(data_dir: str) -> tuple[tuple[Genotype, ...], Batch]:
    from nasspace.benchmarks.subsets import SubsetTable, load_unlabelled_darts

    store = DataStore(data_dir)
    cells: dict[str, Genotype] = {}
    for genotype in [*load_unlabelled_darts(store), *SubsetTable("darts", store=store).genotypes]:
        cells.setdefault(str(genotype), genotype)
    result = tuple(cells.values())
    return result, batch_genotypes(result, featurizer_for("darts"))
