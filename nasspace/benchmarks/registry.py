"""The registry of benchmark tables: (space, dataset) -> how to load it and what its metrics mean.

A table module registers a `TableSpec` per dataset when it is imported; this module imports none of them
(``nasspace.benchmarks`` imports the built-in ones). `load_table` builds a table once per process, space,
dataset and data folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from nasspace.errors import DataError, OptionError

__all__ = ["TableSpec", "register_table", "unregister_table", "get_table_spec", "list_table_specs", "default_dataset",
           "load_table"]


@dataclass(frozen=True)
class TableSpec:
    """One searchable table.

    Attributes:
        space: the search space's registry name.
        dataset: the dataset or task.
        load: ``data_dir (None: the default folder) -> table`` (an `ArrayTable`, or the NB201 table).
        search_metric: what a search maximizes by default.
        report_metric: what a finished search reports (the search metric where the table has no test split).
        objectives: extra metrics a multi-objective search may trade against (e.g. ``latency:pixel3``).
        minimize: the metrics where lower is better.
        num_cells: architectures in the table.
        metrics: metric -> one line saying what the number is (unit, split, higher or lower is better).
        sources: the manifest names (or package) its files come from.
    """

    space: str
    dataset: str
    load: Callable[[str | None], Any] = field(compare=False, repr=False)
    search_metric: str
    report_metric: str
    num_cells: int
    objectives: tuple[str, ...] = ()
    minimize: tuple[str, ...] = ()
    metrics: Mapping[str, str] = field(default_factory=dict, compare=False)
    sources: tuple[str, ...] = ()


_TABLES: dict[tuple[str, str], TableSpec] = {}


def register_table(spec: TableSpec, *, replace: bool = False) -> TableSpec:
    """Add a table under ``(spec.space, spec.dataset)``.

    Raises:
        ValueError: the pair is taken (unless ``replace``).
    """
    key = (spec.space, spec.dataset)
    if key in _TABLES and not replace:
        raise OptionError(f"a {spec.space} table for dataset {spec.dataset!r} is already registered")
    _TABLES[key] = spec
    _load_cached.cache_clear()
    return spec


def unregister_table(space: str, dataset: str) -> None:
    _TABLES.pop((space, dataset), None)
    _load_cached.cache_clear()


def list_table_specs(space: str | None = None) -> list[TableSpec]:
    """Every registered table (of one space), by space then registration order."""
    return [s for s in _TABLES.values() if space is None or s.space == space]


def default_dataset(space: str) -> str:
    """The dataset a command uses when none is named: the space's first table (``cifar10`` on nb201, and where
    the space has no table)."""
    specs = list_table_specs(space)
    return specs[0].dataset if specs else "cifar10"


def get_table_spec(space: str, dataset: str) -> TableSpec:
    """The table of ``dataset`` in ``space``.

    Raises:
        DataError: no such table; lists the datasets the space has (or the spaces with tables).
    """
    spec = _TABLES.get((space, dataset))
    if spec is None:
        datasets = [s.dataset for s in list_table_specs(space)]
        if datasets:
            raise DataError(f"space {space!r} has no table for dataset {dataset!r}; valid: {', '.join(datasets)}")
        spaces = sorted({s.space for s in _TABLES})
        raise DataError(f"space {space!r} has no benchmark table; spaces with tables: {', '.join(spaces)}")
    return spec


def load_table(space: str, dataset: str, data_dir: str | None = None) -> Any:
    """The table of ``(space, dataset)``, built once per process and data folder."""
    get_table_spec(space, dataset)
    return _load_cached(space, dataset, data_dir)


@lru_cache(maxsize=16)
def _load_cached(space: str, dataset: str, data_dir: str | None) -> Any:
    return _TABLES[(space, dataset)].load(data_dir)
