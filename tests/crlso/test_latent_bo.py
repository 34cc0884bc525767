"""The latent BO searcher on the real NB201 table with a tiny latent model: valid, new, on budget."""

from __future__ import annotations

import pytest

from crlso.search import create_searcher, list_searchers, run_search, searcher_config
from nasspace import get_space
from nasspace.oracle import Oracle


@pytest.fixture(scope="module")
def tiny_bo_options(tiny_crlso_options) -> dict:
    """Small and fast: the tiny CR-LSO model and cache, few restarts and raw samples."""
    keep = ("cache_dir", "model", "pretrain")
    return {**{k: tiny_crlso_options[k] for k in keep}, "n_init": 6, "batch_size": 4, "num_restarts": 2,
            "raw_samples": 32, "mc_samples": 32, "maxiter": 20, "fit_maxiter": 20}


def _search(seed: int, table, options: dict, budget: int) -> tuple[Oracle, list[str]]:
    oracle = Oracle.from_table(table, metric="valid_acc", budget=budget)
    searcher = create_searcher("latent_bo", get_space("nb201"), seed=seed, options=options)
    queries = run_search(searcher, oracle, budget=budget, progress=False)
    return oracle, [str(q.genotype) for q in queries]


def test_registered_with_checked_options() -> None:
    assert "latent_bo" in list_searchers()
    with pytest.raises(ValueError, match="valid: .*acquisition"):
        searcher_config("latent_bo", {"nope": 1})
    with pytest.raises(ValueError, match="valid: qlogei, qlognei"):
        create_searcher("latent_bo", get_space("nb201"), seed=0, options={"acquisition": "ei"})


def test_budget_valid_new_and_reproducible(nb201_cifar10, tiny_bo_options) -> None:
    oracle, first = _search(3, nb201_cifar10, tiny_bo_options, budget=13)  # 6 random + rounds of 4, last one short
    assert len(first) == 13 == oracle.n_queries and oracle.exhausted
    assert len(set(first)) == len(first)
    space = get_space("nb201")
    assert all(str(space.parse(s)) == s for s in first)
    _, again = _search(3, nb201_cifar10, tiny_bo_options, budget=13)
    assert again == first


@pytest.mark.parametrize("acquisition", ["qlogei", "qlognei"])
def test_ask_proposes_only_unseen_cells(nb201_cifar10, tiny_bo_options, acquisition: str) -> None:
    space = get_space("nb201")
    searcher = create_searcher("latent_bo", space, seed=1, options={**tiny_bo_options, "acquisition": acquisition})
    initial = searcher.ask(100)
    assert len(initial) == tiny_bo_options["n_init"]
    searcher.tell(initial, [nb201_cifar10.query(g, "valid_acc") for g in initial])
    for n in (1, 10):  # q = 1 and batches, never more than asked nor than batch_size
        batch = searcher.ask(n)
        keys = [str(g) for g in batch]
        assert len(batch) == min(n, tiny_bo_options["batch_size"])
        assert len(set(keys)) == len(keys) and not set(keys) & searcher.seen
        searcher.tell(batch, [nb201_cifar10.query(g, "valid_acc") for g in batch])
