"""Tiny end-to-end searches on the real NB201 table: budget, no repeats, reproducibility."""

from __future__ import annotations

import pytest

from crlso.search import create_searcher, list_searchers, run_search, searcher_config
from nasspace import get_space
from nasspace.oracle import Oracle

BUDGET = 24


def _search(method: str, seed: int, table, options: dict | None = None, budget: int = BUDGET):
    oracle = Oracle.from_table(table, metric="valid_acc", budget=budget)
    searcher = create_searcher(method, get_space("nb201"), seed=seed, options=options)
    queries = run_search(searcher, oracle, budget=budget, progress=False)
    return oracle, [str(q.genotype) for q in queries]


def _options(method: str, tiny: dict) -> dict | None:
    return tiny if method == "crlso" else None


def test_registry_lists_the_four_methods() -> None:
    assert {"random", "rea", "local", "crlso"} <= set(list_searchers())
    with pytest.raises(ValueError, match="valid: .*rea"):
        create_searcher("nope", get_space("nb201"), seed=0)
    with pytest.raises(ValueError, match="valid: .*batch_size"):
        searcher_config("crlso", {"nope": 1})
    assert searcher_config("rea", {"population_size": "10"}).population_size == 10


@pytest.mark.parametrize("method", ["random", "rea", "local", "crlso"])
def test_budget_no_repeats_reproducible(method: str, nb201_cifar10, tiny_crlso_options) -> None:
    options = _options(method, tiny_crlso_options)
    oracle, first = _search(method, 7, nb201_cifar10, options)
    assert len(first) == BUDGET == oracle.n_queries  # spends the budget, never more
    assert len(set(first)) == len(first)  # never queries a genotype twice
    assert oracle.exhausted
    _, again = _search(method, 7, nb201_cifar10, options)
    assert again == first  # same seed, same queries
    _, other = _search(method, 8, nb201_cifar10, options)
    assert other != first


def test_crlso_round_never_asks_past_the_budget(nb201_cifar10, tiny_crlso_options) -> None:
    """A budget that is not a multiple of the round size ends exactly on the budget."""
    options = {**tiny_crlso_options, "batch_size": 7}
    oracle, queries = _search("crlso", 1, nb201_cifar10, options, budget=19)
    assert len(queries) == 19 == oracle.n_queries


def test_crlso_neighbours_and_stall_restarts_keep_the_contract(nb201_cifar10, tiny_crlso_options) -> None:
    """Predictor-ranked one-edge neighbours and stall restarts still spend the budget, no repeats."""
    options = {**tiny_crlso_options, "neighbour_top": 2, "stall_rounds": 1, "explore_starts": 8}
    oracle, queries = _search("crlso", 3, nb201_cifar10, options, budget=BUDGET)
    assert len(queries) == BUDGET == oracle.n_queries
    assert len(set(queries)) == len(queries)


def test_crlso_edge_distance() -> None:
    from crlso.search.crlso import _distance, _tokens

    a = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    b = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_1x1~2|"
    assert len(_tokens(a)) == 6
    assert _distance(_tokens(a), _tokens(a)) == 0
    assert _distance(_tokens(a), _tokens(b)) == 2
