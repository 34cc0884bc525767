"""Hybrid search: seeding from a real (tiny) supernet run, pre-screening, budgets, and the CLI."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math

import numpy as np
import pytest

from crlso.cli import main
from crlso.search import create_searcher, run_search
from crlso.search.hybrid import HybridSearch, run_supernet_search, supernet_seeds
from darts_backend.runs.results import SearchOutcome, load_outcome
from nasspace import get_space
from nasspace.nb201 import NB201Genotype
from nasspace.oracle import Oracle


@pytest.fixture(scope="module")
def supernet_run(tmp_path_factory):
    """A finished Single-DARTS run on synthetic 32x32 images (C=4, N=1, 2 epochs)."""
    out = tmp_path_factory.mktemp("supernet")
    return run_supernet_search(out, method="single-darts", data="synthetic", seed=0, channels=4, cells=1, epochs=2,
                               batch_size=32, limit_train=128, threads=1, progress=False)


def _options(tiny: dict, run, **extra) -> dict:
    return {**tiny, "seed_from": str(run), "alpha_top": 3, **extra}


def _run(table, options: dict, *, budget: int, seed: int = 0):
    oracle = Oracle.from_table(table, metric="valid_acc", budget=budget)
    searcher = create_searcher("hybrid", get_space("nb201"), seed=seed, options=options)
    queries = run_search(searcher, oracle, budget=budget, progress=False)
    return searcher, oracle, [str(q.genotype) for q in queries]


def test_top_cells_are_the_most_probable_cells() -> None:
    rng = np.random.default_rng(0)
    ops = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    probs = rng.dirichlet(np.ones(len(ops)), size=6)
    outcome = SearchOutcome(NB201Genotype(("skip_connect",) * 6), "nb201", ops, probs.tolist(), "test")
    allowed = range(1, len(ops))  # `none` excluded
    brute = sorted(itertools.product(allowed, repeat=6), key=lambda c: -sum(math.log(probs[e, i]) for e, i in enumerate(c)))
    expected = [NB201Genotype(tuple(ops[i] for i in c)) for c in brute[:7]]
    assert outcome.top_cells(7) == expected
    assert all("none" not in g.ops for g in outcome.top_cells(20))


def test_seeds_are_the_derived_cell_then_the_alpha_ranked_ones(supernet_run) -> None:
    outcome = load_outcome(supernet_run)
    seeds = supernet_seeds(str(supernet_run), 3)
    assert seeds[0] == outcome.genotype
    assert [g for g in outcome.top_cells(3) if g != outcome.genotype] == seeds[1:]
    with pytest.raises(ValueError, match="lacks genotype.json"):
        load_outcome(supernet_run.parent)


def test_seeding_puts_the_supernet_cells_first_and_the_budget_holds(supernet_run, nb201_cifar10, tiny_crlso_options) -> None:
    seeds = [str(g) for g in supernet_seeds(str(supernet_run), 3)]
    searcher, oracle, queries = _run(nb201_cifar10, _options(tiny_crlso_options, supernet_run), budget=20)
    assert queries[: len(seeds)] == seeds  # the initial set starts with every seed
    assert len(queries) == 20 == oracle.n_queries and len(set(queries)) == 20
    assert searcher.stats()["screened"] == 0
    # a budget smaller than the seed list: still exactly the budget
    _, oracle, queries = _run(nb201_cifar10, _options(tiny_crlso_options, supernet_run), budget=2)
    assert queries == seeds[:2] and oracle.n_queries == 2


def test_prescreening_queries_only_screened_cells(supernet_run, nb201_cifar10, tiny_crlso_options) -> None:
    options = _options(tiny_crlso_options, supernet_run, screen=True, screen_factor=3, screen_images=64)
    searcher, oracle, queries = _run(nb201_cifar10, options, budget=18, seed=1)
    assert len(queries) == 18 == oracle.n_queries
    assert set(queries) <= set(searcher.screened)  # never a query the evaluator did not score
    stats = searcher.stats()
    assert stats["screened"] >= 2 * len(queries) and stats["proposed"] >= len(queries)
    assert queries[: stats["seeds"]] == [str(g) for g in searcher.seeds]


def test_screen_picks_the_best_screened_candidates(supernet_run, tiny_crlso_options) -> None:
    class ByConvCount:  # a stand-in evaluator: more 3x3 convs score higher
        def evaluate(self, genotypes):
            return [type("S", (), {"key": (g.ops.count("nor_conv_3x3"), 0.0)})() for g in genotypes]

    config = create_searcher("hybrid", get_space("nb201"), seed=0,
                             options=_options(tiny_crlso_options, supernet_run)).config
    searcher = HybridSearch(get_space("nb201"), seed=0, config=type(config)(**{**config.__dict__, "screen": True}),
                            screener=ByConvCount())
    searcher.seeds = []
    rng = np.random.default_rng(0)
    pool = [get_space("nb201").sample(rng) for _ in range(12)]
    chosen = searcher._screen(pool, 4)
    best = sorted((g.ops.count("nor_conv_3x3") for g in pool), reverse=True)[:4]
    assert sorted((g.ops.count("nor_conv_3x3") for g in chosen), reverse=True) == best


def test_single_path_screening_of_an_spos_run(tmp_path, tiny_crlso_options) -> None:
    from darts_backend.evaluate import SinglePathEvaluator

    run = run_supernet_search(tmp_path / "spos", method="spos", data="synthetic", seed=0, channels=4, cells=1, epochs=1,
                              batch_size=32, limit_train=96, threads=1, progress=False)
    selection = json.loads((run / "selection.json").read_text())["ranked"]
    seeds = [str(g) for g in supernet_seeds(str(run), 2)]
    assert seeds[0] == selection[0]["genotype"]  # an spos run seeds with its selected cell, then its best others
    assert set(seeds[1:]) <= {r["genotype"] for r in selection[:4]}
    options = _options(tiny_crlso_options, run, screen=True, screen_evaluator="single-path", screen_images=16,
                       screen_calibration=16)
    searcher = create_searcher("hybrid", get_space("nb201"), seed=0, options=options)
    assert isinstance(searcher.screener, SinglePathEvaluator) and searcher.screener.num_calibration_images == 16
    searcher.seeds = []
    pool = [get_space("nb201").sample(np.random.default_rng(i)) for i in range(6)]
    chosen = searcher._screen(pool, 2)
    keys = {str(r.genotype): r.key for r in searcher.screener.evaluate(pool)}
    assert sorted(keys[str(g)] for g in chosen) == sorted(keys.values())[-2:]
    for bad, match in (({"screen_evaluator": "oracle"}, "valid: mixture, single-path"),
                       ({"screen_evaluator": "single-path", "screen_split": "test"}, "held-out train images only")):
        with pytest.raises(ValueError, match=match):
            create_searcher("hybrid", get_space("nb201"), seed=0, options={**options, **bad})


def test_screening_needs_a_supernet(tiny_crlso_options) -> None:
    with pytest.raises(ValueError, match="screen=True needs seed_from"):
        create_searcher("hybrid", get_space("nb201"), seed=0, options={**tiny_crlso_options, "screen": True})


def test_cli_runs_both_steps_resumes_and_refuses_other_settings(tmp_path, supernet_run, data_store, tiny_crlso_options, capsys) -> None:
    out = tmp_path / "hybrid"
    args = ["hybrid", "--out", str(out), "--data", "synthetic", "--channels", "4", "--cells", "1", "--epochs", "1",
            "--batch-size", "32", "--limit-train", "64", "--threads", "1", "--budget", "12", "--alpha-top", "2",
            "--data-dir", str(data_store.data_dir), "--cache-dir", tiny_crlso_options["cache_dir"],
            "--option", "n_init=6", "--option", "batch_size=3", "--option", "predictor_epochs=5",
            "--option", "icnn_steps=5", "--option", "pseudo_size=64",
            "--option", "model=" + json.dumps(dataclasses.asdict(tiny_crlso_options["model"])),
            "--option", "pretrain=" + json.dumps(dataclasses.asdict(tiny_crlso_options["pretrain"]))]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "hybrid seed 0: 12 queries" in printed
    record = json.loads((out / "hybrid.json").read_text())
    logged = [json.loads(line)["genotype"] for line in (out / "search" / "queries.jsonl").read_text().splitlines()]
    assert logged[: len(record["seeds"])] == record["seeds"] and len(logged) == 12
    assert (out / "supernet" / "genotype.json").is_file()
    # killed after 7 queries: the same command finishes with exactly the same queries
    (out / "search" / "summary.json").unlink()
    lines = (out / "search" / "queries.jsonl").read_text().splitlines(keepends=True)
    (out / "search" / "queries.jsonl").write_text("".join(lines[:7]))
    assert main(args) == 0
    assert (out / "search" / "queries.jsonl").read_text() == "".join(lines)
    assert json.loads((out / "search" / "summary.json").read_text())["resumed_from_step"] == 7
    capsys.readouterr()
    assert main(["hybrid", "--out", str(out), "--budget", "5"]) == 2
    assert "exactly one of --supernet" in capsys.readouterr().err
    assert main([*args[:args.index("--epochs") + 1], "2", *args[args.index("--epochs") + 2:]]) == 2
    assert "other settings (epochs)" in capsys.readouterr().err


def test_cli_checks_inputs_before_any_pretraining(tmp_path, supernet_run, capsys, monkeypatch) -> None:
    """Issue 16 item 10: a space mismatch or a cache path that is a file used to fail after minutes of pre-training."""
    import crlso.search.latent_space as latent_space

    def no_pretraining(*args, **kwargs):
        raise AssertionError("pre-training started before the inputs were checked")

    monkeypatch.setattr(latent_space, "latent_model", no_pretraining)
    assert main(["hybrid", "--supernet", str(supernet_run), "--space", "darts", "--budget", "5",
                 "--out", str(tmp_path / "h")]) == 2
    assert "searched the nb201 space; --space darts needs a darts supernet" in capsys.readouterr().err
    a_file = tmp_path / "cache-file"
    a_file.write_text("")
    assert main(["hybrid", "--supernet", str(supernet_run), "--budget", "5", "--cache-dir", str(a_file),
                 "--out", str(tmp_path / "h")]) == 2
    err = capsys.readouterr().err
    assert f"{a_file} is a file, not a folder" in err and err.count("\n") == 1
    assert not (tmp_path / "h").exists()
