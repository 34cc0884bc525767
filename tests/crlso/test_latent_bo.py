"""The latent BO searcher on the real NB201 table with a tiny latent model: valid, new, on budget."""

from __future__ import annotations

import dataclasses

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
    with pytest.raises(ValueError, match="valid: cells, box"):
        create_searcher("latent_bo", get_space("nb201"), seed=0, options={"candidates": "grid"})


def test_cache_dir_flag_reaches_every_method_with_a_cache(tmp_path) -> None:
    from crlso.search.variants import resolve_method

    options = {name: resolve_method(name, {}, cache_dir=str(tmp_path))[2] for name in ("random", "crlso", "latent_bo", "rea")}
    assert options["latent_bo"] == options["crlso"] == {"cache_dir": str(tmp_path.resolve())}
    assert options["random"] == options["rea"] == {}
    explicit = resolve_method("latent_bo", {"cache_dir": "/elsewhere"}, cache_dir=str(tmp_path))[2]
    assert explicit["cache_dir"] == "/elsewhere"
    frozen = resolve_method("crlso-frozen", {}, space="tnb101-micro", cache_dir=str(tmp_path))  # a variant, another space
    assert frozen[:2] == ("crlso", "crlso-frozen") and frozen[2]["model"]["space"] == "tnb101-micro"


@pytest.mark.parametrize("candidates", ["cells", "box"])
def test_budget_valid_new_and_reproducible(nb201_cifar10, tiny_bo_options, candidates: str) -> None:
    options = {**tiny_bo_options, "candidates": candidates}
    oracle, first = _search(3, nb201_cifar10, options, budget=13)  # 6 random + rounds of 4, last one short
    assert len(first) == 13 == oracle.n_queries and oracle.exhausted
    assert len(set(first)) == len(first)
    space = get_space("nb201")
    assert all(str(space.parse(s)) == s for s in first)
    _, again = _search(3, nb201_cifar10, options, budget=13)
    assert again == first


def test_cells_candidates_pick_the_acquisition_maximiser(nb201_cifar10, tiny_bo_options) -> None:
    """With q = 1 the discrete optimiser returns the unseen cell of highest acquisition value."""
    import torch

    space = get_space("nb201")
    searcher = create_searcher("latent_bo", space, seed=2, options={**tiny_bo_options, "prescreen": 0})
    initial = searcher.ask(100)
    searcher.tell(initial, [nb201_cifar10.query(g, "valid_acc") for g in initial])
    x = searcher.codes[torch.tensor([searcher.index[str(g)] for g, _ in searcher.observed])]
    y = torch.tensor([[v] for _, v in searcher.observed], dtype=torch.float64)
    gp = searcher._fit(x, y, searcher._bounds(x))
    acq = searcher._acquisition(gp, x, y, seed=0)
    best_f = float(y.max())
    (picked,) = searcher._pick_cells(gp, acq, best_f, set(searcher.seen), 1)
    unseen = [i for i, g in enumerate(searcher.cells) if str(g) not in searcher.seen]
    with torch.no_grad():
        values = acq(searcher.codes[torch.tensor(unseen)].unsqueeze(1))
    assert str(picked) == str(searcher.cells[unseen[int(values.argmax())]]) and str(picked) not in searcher.seen
    # prescreen = 1 leaves only the best cell by analytic log-EI
    searcher.config = dataclasses.replace(searcher.config, prescreen=1)
    (screened,) = searcher._pick_cells(gp, acq, best_f, set(searcher.seen), 3)
    assert [str(screened)] == [str(g) for g in searcher._fill(gp, best_f, set(searcher.seen), 1)]


@pytest.mark.parametrize("acquisition,candidates", [("qlogei", "cells"), ("qlognei", "cells"), ("qlogei", "box")])
def test_ask_proposes_only_unseen_cells(nb201_cifar10, tiny_bo_options, acquisition: str, candidates: str) -> None:
    space = get_space("nb201")
    searcher = create_searcher("latent_bo", space, seed=1,
                               options={**tiny_bo_options, "acquisition": acquisition, "candidates": candidates})
    initial = searcher.ask(100)
    assert len(initial) == tiny_bo_options["n_init"]
    searcher.tell(initial, [nb201_cifar10.query(g, "valid_acc") for g in initial])
    for n in (1, 10):  # q = 1 and batches, never more than asked nor than batch_size
        batch = searcher.ask(n)
        keys = [str(g) for g in batch]
        assert len(batch) == min(n, tiny_bo_options["batch_size"])
        assert len(set(keys)) == len(keys) and not set(keys) & searcher.seen
        searcher.tell(batch, [nb201_cifar10.query(g, "valid_acc") for g in batch])
