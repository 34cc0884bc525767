"""NAS-Bench-Graph tables: one `ArrayTable` per node-classification dataset of the ``nbgraph`` space.

The numbers are the light tables shipped inside the ``nas-bench-graph`` package
(``nas_bench_graph/light/<dataset>.bench``: a pickled dict ``hash -> {valid_perf, perf, latency, para}``),
read with `nasspace.benchmarks.safe_pickle.load_restricted_pickle`, never ``pickle.load``. Rows are in
ascending package hash (the space's enumeration order). Importing this module registers a `TableSpec` per
dataset of `nasspace.nbgraph.NBGRAPH_DATASETS`; the files come from the package, so a table's ``data_dir``
is not used.
"""

from __future__ import annotations

import math
from typing import Any

from nasspace.benchmarks.registry import TableSpec, register_table
from nasspace.benchmarks.table import ArrayTable
from nasspace.errors import DataError, GenotypeError
from nasspace.nbgraph import NBGRAPH_DATASETS, NBGraphSpace, bench_file, read_bench
from nasspace.space import get_space

__all__ = ["NBGRAPH_METRICS", "METRIC_NOTES", "NUM_CELLS", "load_nbgraph_table"]

NBGRAPH_METRICS = ("valid_perf", "perf", "latency", "para")
METRIC_NOTES = {
    "valid_perf": "validation accuracy, fraction in [0, 1], higher is better",
    "perf": "test accuracy, fraction in [0, 1], higher is better",
    "latency": "latency of the model, seconds, lower is better",
    "para": "trainable parameters in millions, lower is better",
}
MINIMIZE = ("latency", "para")
NUM_CELLS = 26_206


def load_nbgraph_table(dataset: str, data_dir: str | None = None) -> ArrayTable:
    """The NAS-Bench-Graph table of ``dataset`` (``data_dir`` is accepted for the registry and unused).

    Raises:
        DataError: an unknown dataset, the package missing (says ``pip install nas-bench-graph``), or a
            file whose keys or records are not what this space and these metrics expect (one line).
    """
    if dataset not in NBGRAPH_DATASETS:
        raise DataError(f"NAS-Bench-Graph has no dataset {dataset!r}; valid: {', '.join(NBGRAPH_DATASETS)}")
    path = bench_file(dataset)
    bench = read_bench(dataset)
    space = get_space("nbgraph")
    if not isinstance(space, NBGraphSpace):
        raise DataError(f"the space registered as 'nbgraph' is a {type(space).__name__}, not NBGraphSpace")
    keys = sorted(bench, key=lambda k: (type(k).__name__, k if isinstance(k, int) else 0))
    genotypes, columns = [], {name: [] for name in NBGRAPH_METRICS}
    for key in keys:
        try:
            genotypes.append(space.from_hash(key))
        except GenotypeError as exc:
            raise DataError(f"{path}: key {key!r} is not an architecture of the nbgraph space ({exc})") from None
        record = bench[key]
        if not isinstance(record, dict):
            raise DataError(f"{path}: the record of {key} is a {type(record).__name__}, expected a dict")
        for name, column in columns.items():
            column.append(_number(record.get(name), path, key, name))
    return ArrayTable(space, dataset, genotypes, columns, minimize=MINIMIZE)


def _number(value: Any, path: object, key: int, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, (bool, str)) or not math.isfinite(number):
        raise DataError(f"{path}: the {name!r} of architecture {key} is {value!r}, expected a finite number")
    return number


def _register_tables() -> None:
    for dataset in NBGRAPH_DATASETS:
        register_table(TableSpec(
            space="nbgraph", dataset=dataset, load=lambda data_dir, d=dataset: load_nbgraph_table(d, data_dir),
            search_metric="valid_perf", report_metric="perf", num_cells=NUM_CELLS, objectives=MINIMIZE,
            minimize=MINIMIZE, metrics=METRIC_NOTES, sources=("nas-bench-graph",)))


_register_tables()
