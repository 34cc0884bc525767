"""A user's function of a genotype as a named oracle (`register_function_oracle`), with no crlso code to edit."""

from __future__ import annotations

from collections.abc import Callable

from nasspace import Genotype
from nasspace.oracle import Oracle

from crlso.oracles.registry import NoSettings, OracleContext, PickedOracle, register_oracle
from crlso.oracles.table import has_table, load_table

__all__ = ["register_function_oracle"]


def register_function_oracle(name: str, function: Callable[[Genotype], float], *, summary: str = "",
                             cost: Callable[[Genotype], float] | None = None, replace: bool = False) -> None:
    """Make ``function(genotype) -> value`` (higher is better) the oracle ``name``; ``cost`` prices a query.

    The run's table, when its space has one, still reports the found cells after the search. Registering the same
    function again is allowed; another function under a taken name is an error unless ``replace``.

    Raises:
        ConfigError: ``name`` is taken by another oracle (and not ``replace``).
    """
    def factory(spec: NoSettings, context: OracleContext) -> PickedOracle:
        table = load_table(context.dataset, context.data_dir, context.space) if has_table(context.space) else None
        oracle = Oracle(function, cost=cost, budget=context.budget, cost_budget=context.budget_seconds,
                        metric=context.metric)
        return PickedOracle(oracle, table)

    factory.function = function  # type: ignore[attr-defined]
    register_oracle(name, summary=summary or (function.__doc__ or "").strip().split("\n")[0], module=function.__module__,
                    replace=replace)(factory)
