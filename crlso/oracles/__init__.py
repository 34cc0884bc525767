"""Where a search's values come from, by name: the benchmark table, a supernet, or training each cell.

`pick_oracle` makes a run config's oracle: the table (`load_table`; the default), a supernet's held-out
accuracy (``supernet`` set: `crlso.oracles.supernet`) or training each cell (``oracle`` set:
`crlso.oracles.training`). A user function is an oracle too: ``nasspace.oracle.Oracle(fn, budget=...)``.
The accounting (budget, repeats free, history) stays in `nasspace.oracle`.

- `crlso.oracles.training`: the training oracle (`TrainProxy`, `TrainingOracle`, `train_cells`);
- `crlso.oracles.supernet`: the supernet oracle;
- `crlso.oracles.zero_cost`: zero-cost proxy scores read from the proxy cache (they cost no query: the
  searchers screen and seed with them, the ranking model reads them as features).

With `crlso.search.hybrid`, the training and supernet oracles are the crlso modules that import
`darts_backend` (lazily, inside the functions that train or evaluate). Other names are imported from their
module on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from nasspace import Genotype
from nasspace.oracle import Oracle

from crlso._lazy import lazy_exports
from crlso.errors import ConfigError

if TYPE_CHECKING:
    from crlso.experiments.executors import Executor
    from crlso.experiments.run import RunConfig

ORACLES = ("table", "train")
"""Oracles a search picks by name (the supernet oracle comes with ``--supernet`` in the darts space)."""


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
        ValueError: the budget exceeds them; names the allowed range.
    """
    if budget > len(table):
        raise ConfigError(f"budget {budget} exceeds the {len(table)} distinct cells of the {dataset} table; "
                         f"allowed: 1..{len(table)}")
    return table


class PickedOracle(NamedTuple):
    """A run's oracle, with what the run needs beside it."""

    oracle: Oracle
    table: Any  # the table that reports after the search (None: no table)
    checked_table: Any  # the table the logged values must match (None when the values come from elsewhere)
    prefetch: Callable[[Sequence[Genotype]], None] | None  # evaluates a batch at once (training)
    info: Callable[[Genotype], dict[str, Any]] | None  # what a log line records beside value and cost


def pick_oracle(config: RunConfig, out: Path, *, executor: Executor | None) -> PickedOracle:
    """The oracle of a run config: training when ``config.oracle`` is set, else the table, or the supernet
    when ``config.supernet`` is set; evaluations of the training oracle live in ``out/evaluations``.

    Raises:
        ValueError: the budget exceeds the table's cells, or an unknown oracle name or setting.
    """
    prefetch = info = None
    checked_table = None
    if config.oracle is not None:  # training: the table, if any, only reports after the search
        from crlso.oracles.training import make_oracle

        table = load_table(config.dataset, config.data_dir, config.space) if has_table(config.space) else None
        if table is not None:
            check_budget(table, config.budget, config.dataset)
        oracle, prefetch, info = make_oracle(config.oracle, out, budget=config.budget, cost_budget=config.budget_seconds,
                                             metric=config.search_metric, executor=executor)
    elif config.supernet is None:
        table = check_budget(load_table(config.dataset, config.data_dir, config.space), config.budget, config.dataset)
        oracle = Oracle.from_table(table, metric=config.search_metric, budget=config.budget)
        checked_table = table
    else:  # no table for this space: a supernet's inherited-weights accuracy is the search metric
        from crlso.oracles.supernet import supernet_oracle

        table, oracle = None, supernet_oracle(config.supernet, budget=config.budget, metric=config.search_metric)
    return PickedOracle(oracle, table, checked_table, prefetch, info)


_LAZY, __getattr__, __dir__ = lazy_exports(__name__, {
    "crlso.oracles.training": ["TRAIN_METRIC", "TrainProxy", "proxy_preset", "final_preset", "Evaluation", "TrainingOracle",
                               "train_cells", "evaluation_key", "make_oracle"],
    "crlso.oracles.supernet": ["supernet_oracle"],
    "crlso.oracles.zero_cost": ["ProxyTable", "find_proxy_file", "load_proxy_scores", "parse_proxy_list", "proxy_table",
                                "read_proxy_file"],
})
__all__ = ["ORACLES", "load_table", "has_table", "check_budget", "PickedOracle", "pick_oracle", *_LAZY]
