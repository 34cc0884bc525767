"""Zero-cost proxies in crlso: the cache reader, the warm start, predictor features, proxy screening, layering."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import crlso.search.crlso as crlso_module
from crlso.oracles.zero_cost import ProxyTable, find_proxy_file, load_proxy_scores
from crlso.search import create_searcher, run_search, searcher_config
from nasspace import get_space
from nasspace.oracle import Oracle

SPACE = get_space("nb201")
CELLS = [str(g) for g in SPACE.enumerate()]


def _write_cache(root: Path, proxy: str, scores: dict, *, digest: str = "0123456789abcdef") -> Path:
    path = root / "zero-cost" / "nb201" / f"{proxy}-{digest}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format_version": 1, "settings": {"space": "nb201", "proxy": proxy}, "scores": scores}))
    return path


@pytest.fixture(scope="module")
def proxy_root(tmp_path_factory) -> Path:
    """A proxy cache of every nb201 cell: ``synflow`` a seeded permutation, ``params`` another, ``flops`` = -synflow."""
    root = tmp_path_factory.mktemp("zc-cache")
    rng = np.random.default_rng(0)
    synflow = rng.permutation(len(CELLS)).astype(float)
    params = rng.permutation(len(CELLS)).astype(float)
    _write_cache(root, "synflow", dict(zip(CELLS, synflow.tolist())))
    _write_cache(root, "params", dict(zip(CELLS, params.tolist())))
    _write_cache(root, "flops", dict(zip(CELLS, (-synflow).tolist())))
    return root


def _value(genotype) -> float:
    """A deterministic fake accuracy of a cell (the oracle's answer)."""
    return 50.0 + (CELLS.index(str(genotype)) * 7919 % 1000) / 25.0


def _search(name: str, options: dict, *, budget: int, seed: int = 0):
    oracle = Oracle(_value, budget=budget, metric="valid_acc")
    searcher = create_searcher(name, SPACE, seed=seed, options=options)
    queries = run_search(searcher, oracle, budget=budget, progress=False)
    return searcher, oracle, queries


# -- reading the cache ------------------------------------------------------------------------------
def test_table_ranks_each_proxy_and_gives_missing_or_undefined_scores_zero() -> None:
    reference = ["a", "b", "c", "d"]
    table = ProxyTable([{"a": 1.0, "b": 5.0, "c": 3.0, "d": 3.0, "e": 100.0, "f": math.nan}], reference)
    f = table.features(["a", "c", "d", "b", "e", "f", "unknown"])[:, 0]
    assert f[0] < f[1] == f[2] < f[3]  # order kept, ties share a value
    assert table.features(reference).mean().abs() < 1e-6  # centred over the reference
    assert f[4] == pytest.approx(math.sqrt(3.0))  # above every reference score: the top of the range
    assert f[5] == 0 and f[6] == 0
    two = ProxyTable([{"a": 1.0, "b": 2.0}, {"a": 2.0, "b": 1.0}], ["a", "b"])
    assert torch.allclose(two.ensemble(["a", "b"]), torch.zeros(2))  # opposite proxies cancel
    with pytest.raises(ValueError, match="no score for 1 of the 2 cells"):
        ProxyTable([{"a": 1.0}], ["a", "b"], names=["synflow"], require_all=True)


def test_find_picks_the_fullest_file_and_refuses_ties_and_absence(tmp_path) -> None:
    small = _write_cache(tmp_path, "synflow", {"x": 1.0}, digest="aaaaaaaaaaaaaaaa")
    big = _write_cache(tmp_path, "synflow", {"x": 1.0, "y": 2.0}, digest="bbbbbbbbbbbbbbbb")
    assert find_proxy_file(tmp_path, "nb201", "synflow") == big
    assert load_proxy_scores(str(small), space="nb201", cache_dir=tmp_path) == {"x": 1.0}
    _write_cache(tmp_path, "synflow", {"x": 1.0, "z": 2.0}, digest="cccccccccccccccc")
    with pytest.raises(ValueError, match="name the file"):
        find_proxy_file(tmp_path, "nb201", "synflow")
    with pytest.raises(FileNotFoundError, match="darts-backend zc"):
        find_proxy_file(tmp_path, "nb201", "jacov")


def test_options_are_checked_before_any_work() -> None:
    with pytest.raises(ValueError, match="unknown init 'best'"):
        searcher_config("crlso", {"init": "best"})
    with pytest.raises(ValueError, match="names no proxy"):
        searcher_config("crlso", {"proxy_features": " , "})
    with pytest.raises(ValueError, match="names no proxy"):
        searcher_config("hybrid", {"screen": "true", "screen_evaluator": "zc:"})
    with pytest.raises(ValueError, match="zc:PROXY"):
        searcher_config("hybrid", {"screen_evaluator": "synflow"})


# -- the warm start ---------------------------------------------------------------------------------
def test_zero_cost_warm_start_queries_the_ensemble_top_and_charges_it(proxy_root, tiny_crlso_options) -> None:
    options = {**tiny_crlso_options, "proxy_dir": str(proxy_root), "init": "zc", "init_proxies": "synflow"}
    scores = load_proxy_scores("synflow", space="nb201", cache_dir=proxy_root)
    top = sorted(CELLS, key=lambda key: -scores[key])[: options["n_init"]]
    searcher, oracle, queries = _search("crlso", options, budget=12)
    first = [str(q.genotype) for q in queries[: options["n_init"]]]
    assert first == top
    assert all(searcher.provenance(q.genotype)["source"] == "init-zc" for q in queries[: options["n_init"]])
    assert len(queries) == 12 and oracle.n_queries == 12  # the initial cells count against the budget
    random_start = _search("crlso", {**options, "init": "random"}, budget=options["n_init"])[2]
    assert {str(q.genotype) for q in random_start} != set(top)


def test_warm_start_pool_draws_seeded_cells_from_the_top(proxy_root, tiny_crlso_options) -> None:
    options = {**tiny_crlso_options, "proxy_dir": str(proxy_root), "init": "zc", "init_proxies": "synflow,params",
               "init_pool": 40}
    table = ProxyTable([load_proxy_scores(p, space="nb201", cache_dir=proxy_root) for p in ("synflow", "params")], CELLS)
    ensemble = table.ensemble(CELLS)
    pool = {CELLS[i] for i in torch.argsort(-ensemble, stable=True)[:40].tolist()}
    firsts = []
    for seed in (0, 1):
        _, _, queries = _search("crlso", options, budget=options["n_init"], seed=seed)
        firsts.append({str(q.genotype) for q in queries})
        assert firsts[-1] <= pool and len(firsts[-1]) == options["n_init"]
    assert firsts[0] != firsts[1]


# -- proxy features ---------------------------------------------------------------------------------
def test_proxy_features_are_predictor_inputs_never_targets(proxy_root, tiny_crlso_options, monkeypatch) -> None:
    options = {**tiny_crlso_options, "proxy_dir": str(proxy_root), "proxy_features": "synflow,params"}
    fits = []
    real_fit = crlso_module.fit_predictor

    def spy(predictor, batch, targets, **kwargs):
        fits.append((targets.clone(), kwargs.get("extra")))
        return real_fit(predictor, batch, targets, **kwargs)

    monkeypatch.setattr(crlso_module, "fit_predictor", spy)
    searcher, _, queries = _search("crlso", options, budget=16)
    assert searcher.predictor.extra_dim == 2
    expected = ProxyTable([load_proxy_scores(p, space="nb201", cache_dir=proxy_root) for p in ("synflow", "params")], CELLS)
    targets, extra = fits[-1]
    observed = searcher.observed[: len(targets)]
    # targets are the observed errors only; the features are the cache's ranks of the same cells
    assert torch.allclose(targets, crlso_module.errors_of([v for _, v in observed]))
    assert torch.equal(extra, expected.features([str(g) for g, _ in observed]))
    # the inputs matter: other features, other predictions
    idx = torch.arange(20)
    batch = searcher.latent.bank.select(idx)
    a = crlso_module.predict(searcher.predictor, batch, searcher._extra(idx))
    b = crlso_module.predict(searcher.predictor, batch, -searcher._extra(idx))
    assert not torch.allclose(a, b)
    plain, _, _ = _search("crlso", tiny_crlso_options, budget=10)
    assert plain.predictor.extra_dim == 0


def test_features_refuse_an_incomplete_pass(tmp_path, tiny_crlso_options) -> None:
    _write_cache(tmp_path, "synflow", {CELLS[0]: 1.0})
    with pytest.raises(ValueError, match="no score for 15624 of the 15625"):
        create_searcher("crlso", SPACE, seed=0, options={**tiny_crlso_options, "proxy_dir": str(tmp_path),
                                                          "proxy_features": "synflow"})


# -- proxy screening in the hybrid ------------------------------------------------------------------
def test_proxy_screening_proposes_the_best_screened_cells(proxy_root, tiny_crlso_options, monkeypatch) -> None:
    options = {**tiny_crlso_options, "proxy_dir": str(proxy_root), "screen": True, "screen_evaluator": "zc:synflow",
               "screen_factor": 3}
    scores = load_proxy_scores("synflow", space="nb201", cache_dir=proxy_root)
    searcher = create_searcher("hybrid", SPACE, seed=0, options=options)
    rounds = []
    real = searcher._screen

    def spy(pool, want):
        chosen = real(pool, want)
        rounds.append((pool, chosen))
        return chosen

    monkeypatch.setattr(searcher, "_screen", spy)
    oracle = Oracle(_value, budget=20, metric="valid_acc")
    queries = run_search(searcher, oracle, budget=20, progress=False)
    assert len(queries) == 20
    assert {str(q.genotype) for q in queries} <= set(searcher.screened)  # nothing queried unscreened
    for pool, chosen in rounds:
        best = sorted(pool, key=lambda g: -scores[str(g)])[: len(chosen)]
        assert [str(g) for g in chosen] == [str(g) for g in best]
        assert len(pool) > len(chosen)

