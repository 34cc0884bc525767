"""`ArrayTable`: a tabular benchmark held as arrays, one value per architecture and metric.

Every table other than NB201's own (TransNAS-Bench-101, NAS-Bench-Graph, a user's CSV) is one of these. It
answers what the searches and reports ask of a table (the NB201 table answers the same): ``len``,
``genotypes``, ``arch_strings``, ``index_of``, ``available_metrics``, ``metric``, ``query``, ``record`` and
``metric_function``. Higher is better for every metric except those named in ``minimize``; a search maximizes
its metric, so a minimized metric can be an extra objective but not the search metric.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from nasspace.errors import GenotypeError, MetricUnavailable, OptionError
from nasspace.space import Genotype, SearchSpace

__all__ = ["ArrayTable"]


class ArrayTable:
    """Metrics of a fixed list of architectures of one space and dataset.

    Args:
        space: the genotypes' space.
        dataset: the dataset (task) name.
        genotypes: ``(N,)`` distinct genotypes.
        metrics: name -> ``(N,)`` finite values, aligned with ``genotypes``.
        minimize: metrics where lower is better (latency, parameters).

    Raises:
        GenotypeError: a genotype appears twice (names both rows).
        ValueError: a metric's length differs from the genotypes', or holds a non-finite value.
    """

    def __init__(self, space: SearchSpace, dataset: str, genotypes: Sequence[Genotype], metrics: Mapping[str, Any],
                 *, minimize: Sequence[str] = ()):
        self.space, self.dataset = space, dataset
        self._genotypes = list(genotypes)
        self._arch_strings = [str(g) for g in self._genotypes]
        self._index: dict[str, int] = {}
        for row, key in enumerate(self._arch_strings):
            if key in self._index:
                raise GenotypeError(f"{dataset}: architecture {key!r} appears twice (rows {self._index[key]} and {row})")
            self._index[key] = row
        self._metrics: dict[str, np.ndarray] = {}
        for name, values in metrics.items():
            array = np.asarray(values, dtype=np.float64)
            if array.shape != (len(self._genotypes),):
                raise OptionError(f"{dataset}: metric {name!r} has shape {array.shape}, expected ({len(self._genotypes)},)")
            if not np.isfinite(array).all():
                raise OptionError(f"{dataset}: metric {name!r} has a non-finite value at row {int(np.argmin(np.isfinite(array)))}")
            array.flags.writeable = False
            self._metrics[name] = array
        unknown = sorted(set(minimize) - set(self._metrics))
        if unknown:
            raise OptionError(f"{dataset}: minimize names unknown metrics {unknown}; metrics: {', '.join(self._metrics)}")
        self.minimize = frozenset(minimize)

    def __len__(self) -> int:
        return len(self._genotypes)

    @property
    def genotypes(self) -> list[Genotype]:
        return list(self._genotypes)

    @property
    def arch_strings(self) -> list[str]:
        return list(self._arch_strings)

    def index_of(self, genotype: Genotype | str) -> int:
        """The row of a genotype (or its canonical string).

        Raises:
            GenotypeError: it is not in the table (a malformed string gets the parser's message).
        """
        key = genotype if isinstance(genotype, str) else str(genotype)
        if key not in self._index:
            if isinstance(genotype, str):
                key = str(self.space.parse(genotype))
                if key in self._index:
                    return self._index[key]
            raise GenotypeError(f"{key!r} is not an architecture of the {self.dataset} table")
        return self._index[key]

    def __contains__(self, genotype: object) -> bool:
        return str(genotype) in self._index

    def available_metrics(self) -> list[str]:
        return list(self._metrics)

    def metric(self, name: str) -> np.ndarray:
        """``(N,)`` read-only values of ``name``, in row order.

        Raises:
            MetricUnavailable: the table has no such metric (lists those it has).
        """
        if name not in self._metrics:
            raise MetricUnavailable(f"the {self.dataset} table has no metric {name!r}; metrics: {', '.join(self._metrics)}")
        return self._metrics[name]

    def query(self, genotype: Genotype | str, metric: str) -> float:
        return float(self.metric(metric)[self.index_of(genotype)])

    def record(self, genotype: Genotype | str) -> dict[str, Any]:
        """Every metric of one architecture, with its row and string."""
        row = self.index_of(genotype)
        return {"index": row, "genotype": self._arch_strings[row], "dataset": self.dataset,
                **{name: float(values[row]) for name, values in self._metrics.items()}}

    def metric_function(self, name: str) -> Callable[[Genotype], float]:
        """``genotype -> value`` of one metric, holding only the values and the index (not the table)."""
        values, index, dataset = self.metric(name), self._index, self.dataset

        def lookup(genotype: Genotype) -> float:
            key = str(genotype)
            if key not in index:
                raise GenotypeError(f"{key!r} is not an architecture of the {dataset} table")
            return float(values[index[key]])

        return lookup
