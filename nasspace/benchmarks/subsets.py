"""Benchmarks known on a subset of cells only: NASLib's 500 labelled NB101 and NB301 cells, and the
11,221 unlabelled DARTS-space genotypes.

Metrics of a labelled cell: ``valid_acc`` (NB101: 108 epochs; NB301: the surrogate's validation
accuracy), ``params`` (M), ``flops`` (M) and the zero-cost proxy scores NASLib lists (``snip``,
``synflow``, ...), as NASLib gives them; NB101 cells listed under several (unpruned) keys get the
mean over their keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from nasspace.errors import DataError, GenotypeError, MetricUnavailable, OptionError
from nasspace.fetch import DataStore
from nasspace.space import Genotype, get_space

__all__ = ["SUBSET_SOURCES", "SubsetTable", "load_unlabelled_darts"]

# space -> (manifest name, top-level key of the NASLib file)
SUBSET_SOURCES: dict[str, tuple[str, str]] = {
    "nb101": ("naslib-zc-nb101", "nasbench101"),
    "darts": ("naslib-zc-nb301", "nasbench301"),
}
_RENAME = {"val_accuracy": "valid_acc"}


class SubsetTable:
    """The labelled cells of one NASLib zero-cost file.

    Args:
        space: ``"nb101"`` or ``"darts"`` (NAS-Bench-301).
        dataset: the file's dataset key (``cifar10`` for both files).
        store: where the files are (default: the default data folder).

    Raises:
        ValueError: unknown space or dataset.
        DataError: the file is not fetched or a key does not parse.
    """

    def __init__(self, space: str, *, dataset: str = "cifar10", store: DataStore | None = None):
        if space not in SUBSET_SOURCES:
            raise OptionError(f"no subset table for space {space!r}; valid spaces: {', '.join(SUBSET_SOURCES)}")
        store = store if store is not None else DataStore()
        name, top = SUBSET_SOURCES[space]
        path = store.path(name)
        raw = json.loads(path.read_text())[top]
        if dataset not in raw:
            raise OptionError(f"{path.name} has no dataset {dataset!r}; it has: {', '.join(raw)}")
        search_space = get_space(space)
        self.space, self.dataset = space, dataset
        self.genotypes: list[Genotype] = []
        self._index: dict[str, int] = {}
        rows: list[dict[str, list[float]]] = []
        for key, values in raw[dataset].items():
            try:
                genotype = search_space.from_naslib(key)  # type: ignore[attr-defined]
            except GenotypeError as exc:
                raise DataError(f"{path.name}: key {key[:60]!r} is not a valid {space} cell: {exc}") from None
            if str(genotype) not in self._index:
                self._index[str(genotype)] = len(self.genotypes)
                self.genotypes.append(genotype)
                rows.append({})
            row = rows[self._index[str(genotype)]]
            for metric, value in values.items():
                row.setdefault(_RENAME.get(metric, metric), []).append(float(value))
        # NB101 keys are unpruned matrices: several keys can be one cell (each with one training
        # run's accuracy); such a cell gets the mean, and `num_keys` says how many keys it had.
        names = set.intersection(*(set(r) for r in rows)) if rows else set()
        self._metrics = {m: np.asarray([np.mean(r[m]) for r in rows]) for m in names}
        self._metrics["num_keys"] = np.asarray([len(r["valid_acc"]) for r in rows], dtype=np.float64)

    def __len__(self) -> int:
        return len(self.genotypes)

    def available_metrics(self) -> list[str]:
        return sorted(self._metrics)

    def metric(self, name: str) -> np.ndarray:
        """``(num_cells,)`` values in the order of `genotypes` (read-only view)."""
        if name not in self._metrics:
            raise MetricUnavailable(f"unknown metric {name!r} for the {self.space} subset; valid: {', '.join(self.available_metrics())}")
        view = self._metrics[name].view()
        view.flags.writeable = False
        return view

    def index_of(self, genotype: Genotype) -> int:
        key = str(genotype)
        if key not in self._index:
            raise GenotypeError(f"{key[:80]!r} is not one of the {len(self)} labelled {self.space} cells")
        return self._index[key]

    def query(self, genotype: Genotype, metric: str) -> float:
        return float(self.metric(metric)[self.index_of(genotype)])

    def record(self, genotype: Genotype) -> dict[str, Any]:
        index = self.index_of(genotype)
        return {"index": index, "genotype": str(genotype), **{m: float(v[index]) for m, v in self._metrics.items()}}

    def metric_function(self, name: str) -> Callable[[Genotype], float]:
        """``genotype -> value`` holding no reference to the table (for an Oracle)."""
        values, index, space = self.metric(name), self._index, self.space

        def lookup(genotype: Genotype) -> float:
            key = str(genotype)
            if key not in index:
                raise GenotypeError(f"{key[:80]!r} is not one of the {len(values)} labelled {space} cells")
            return float(values[index[key]])

        return lookup


def load_unlabelled_darts(store: DataStore | None = None) -> list[Genotype]:
    """The 11,221 DARTS-space genotypes of NASLib's archs_nasbench301.json, in file order."""
    store = store if store is not None else DataStore()
    path = store.path("naslib-archs-nb301")
    raw = json.loads(path.read_text())
    if not isinstance(raw, dict):
        raise DataError(f"{path.name} should map indices to compact genotypes")
    space = get_space("darts")
    result = []
    for key in sorted(raw, key=int):
        try:
            result.append(space.from_naslib(raw[key]))  # type: ignore[attr-defined]
        except GenotypeError as exc:
            raise DataError(f"{path.name}: entry {key} is not a valid darts genotype: {exc}") from None
    return result
