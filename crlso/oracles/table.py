"""The table oracle (``table``, the default): a benchmark table's search metric, one query per distinct cell.

`load_table` gives the table of a (space, dataset) (`nasspace.benchmarks.registry`, kept per process); `check_budget`
refuses a budget above its distinct cells before any work.
"""

from __future__ import annotations

from typing import Any

from nasspace.oracle import Oracle

from crlso.errors import ConfigError
from crlso.oracles.registry import NoSettings, OracleContext, PickedOracle, register_oracle

__all__ = ["load_table", "has_table", "check_budget", "table_oracle"]


def load_table(dataset: str, data_dir: str | None = None, space: str = "nb201"):
    """The table of ``dataset`` in ``space`` (`nasspace.benchmarks.registry`; kept per process).

    Raises:
        DataError: the space has no such table (lists the datasets it has).
    """
    from nasspace.benchmarks.registry import load_table as load

    return load(space, dataset, data_dir)


def has_table(space: str) -> bool:
    """Whether any benchmark table is registered for ``space``."""
    from nasspace.benchmarks.registry import list_table_specs

    return bool(list_table_specs(space))


def check_budget(table: Any, budget: int, dataset: str) -> Any:
    """``table`` when ``budget`` queries fit its distinct cells.

    Raises:
        ConfigError: the budget exceeds them; names the allowed range.
    """
    if budget > len(table):
        raise ConfigError(f"budget {budget} exceeds the {len(table)} distinct cells of the {dataset} table; "
                          f"allowed: 1..{len(table)}")
    return table


@register_oracle("table", summary="the benchmark table's search metric (the default)")
def table_oracle(spec: NoSettings, context: OracleContext) -> PickedOracle:
    """The table of the run's space and dataset answers its search metric; logged values are checked against it."""
    table = check_budget(load_table(context.dataset, context.data_dir, context.space), context.budget, context.dataset)
    return PickedOracle(Oracle.from_table(table, metric=context.metric, budget=context.budget), table, table)
