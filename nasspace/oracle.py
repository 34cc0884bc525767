"""The oracle: the only window a searcher has onto a benchmark.

It answers the search metric and nothing else, charges each distinct genotype once (repeats are
free and answered from its cache), adds up the simulated training cost, stops at the budget with
`BudgetExhausted`, and keeps the history of queries in order. It holds no reference to the table:
reporting metrics (test accuracy) are read by the experiment layer after the search.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from nasspace.errors import BudgetExhausted, OptionError
from nasspace.space import Genotype

__all__ = ["Query", "Oracle"]


@dataclass(frozen=True)
class Query:
    """One charged query: its 1-based ``step``, the genotype, the metric value and the cost."""

    step: int
    genotype: Genotype
    value: float
    cost: float
    total_cost: float


class Oracle:
    """Answers ``metric(genotype)`` under a budget of distinct queries (and optionally of cost).

    Args:
        objective: genotype -> value of the search metric (higher is better).
        budget: most distinct genotypes that may be charged (None: unlimited).
        cost: genotype -> simulated cost of evaluating it (e.g. training seconds); None costs 0.
        cost_budget: most total cost that may be spent (None: unlimited).
        metric: name of the search metric, for logs and run files.
    """

    def __init__(
        self,
        objective: Callable[[Genotype], float],
        *,
        budget: int | None = None,
        cost: Callable[[Genotype], float] | None = None,
        cost_budget: float | None = None,
        metric: str = "valid_acc",
    ):
        if budget is not None and budget < 0:
            raise OptionError(f"budget must be >= 0 or None, got {budget}")
        if cost_budget is not None and cost_budget < 0:
            raise OptionError(f"cost_budget must be >= 0 or None, got {cost_budget}")
        self._objective, self._cost = objective, cost
        self.budget, self.cost_budget, self.metric = budget, cost_budget, metric
        self._cache: dict[str, Query] = {}
        self._history: list[Query] = []
        self._total_cost = 0.0

    @classmethod
    def from_table(
        cls,
        table: "object",
        *,
        metric: str = "valid_acc",
        budget: int | None = None,
        cost_metric: str | None = "train_time",
        cost_budget: float | None = None,
    ) -> "Oracle":
        """An oracle of one metric of a tabular benchmark (anything with ``metric_function(name)``).

        The cost is ``cost_metric`` when the table has it, else every query costs 0.
        """
        cost = None
        if cost_metric is not None and cost_metric in table.available_metrics():  # type: ignore[attr-defined]
            cost = table.metric_function(cost_metric)  # type: ignore[attr-defined]
        return cls(
            table.metric_function(metric),  # type: ignore[attr-defined]
            budget=budget,
            cost=cost,
            cost_budget=cost_budget,
            metric=metric,
        )

    # -- querying ---------------------------------------------------------------------------------
    def __call__(self, genotype: Genotype) -> float:
        return self.query(genotype)

    def query(self, genotype: Genotype) -> float:
        """The search metric of ``genotype``; charges it unless it was asked before.

        Raises:
            BudgetExhausted: the genotype is new and the query or cost budget is spent.
        """
        key = str(genotype)
        if key in self._cache:
            return self._cache[key].value
        if self.exhausted:
            raise BudgetExhausted(
                f"the oracle's budget is spent ({self.n_queries} of {self.budget} queries, "
                f"cost {self._total_cost:g} of {self.cost_budget}); {key} was not evaluated"
            )
        value = float(self._objective(genotype))
        cost = float(self._cost(genotype)) if self._cost is not None else 0.0
        self._total_cost += cost
        record = Query(len(self._history) + 1, genotype, value, cost, self._total_cost)
        self._cache[key] = record
        self._history.append(record)
        return value

    def replay(self, queries: Iterable[tuple[Genotype, float, float]]) -> None:
        """Restore a history (genotype, value, cost) from a saved run without calling the objective."""
        for genotype, value, cost in queries:
            key = str(genotype)
            if key in self._cache:
                continue
            self._total_cost += float(cost)
            record = Query(len(self._history) + 1, genotype, float(value), float(cost), self._total_cost)
            self._cache[key] = record
            self._history.append(record)

    def is_known(self, genotype: Genotype) -> bool:
        """Whether ``genotype`` was already charged (asking it again is free)."""
        return str(genotype) in self._cache

    # -- accounting -------------------------------------------------------------------------------
    @property
    def n_queries(self) -> int:
        return len(self._history)

    @property
    def total_cost(self) -> float:
        return self._total_cost

    @property
    def remaining(self) -> int | None:
        """Distinct queries left (None when the query budget is unlimited)."""
        return None if self.budget is None else max(self.budget - self.n_queries, 0)

    @property
    def exhausted(self) -> bool:
        if self.budget is not None and self.n_queries >= self.budget:
            return True
        return self.cost_budget is not None and self._total_cost >= self.cost_budget

    @property
    def history(self) -> tuple[Query, ...]:
        return tuple(self._history)

    def best(self) -> Query | None:
        """The charged query with the highest value (earliest on ties), or None before any query."""
        return max(self._history, key=lambda q: (q.value, -q.step), default=None)
