"""Ranking metrics against scipy, genotype reading, and `crlso rank` on a tiny checkpoint."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest
import torch
from scipy import stats

from crlso.models.checkpoints import save_checkpoint
from crlso.cli import main
from crlso.ranking.genotype_lists import read_genotypes
from crlso.ranking.metrics import kendall_tau, precision_at_k, spearman_rho
from crlso.ranking.benchmark import MODELS, RankBenchConfig, blend_ranks, format_rank_table, one_hot_ops, run_rank_benchmark
from crlso.models.config import ModelConfig, PretrainConfig, build_icnn, build_predictor, build_vae
from nasspace import get_space

TINY = ModelConfig(gnn_hidden=8, gnn_layers=1, latent_dim=4, decoder_hidden=8, decoder_blocks=1,
                   icnn_hidden=8, predictor_hidden=8, predictor_layers=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_equal_scipy_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pred = rng.integers(0, 6, size=40).astype(float)  # many ties on both sides
    true = pred + rng.integers(-3, 4, size=40)
    assert kendall_tau(pred, true) == pytest.approx(stats.kendalltau(pred, true).statistic, abs=1e-12)
    assert spearman_rho(pred, true) == pytest.approx(stats.spearmanr(pred, true).statistic, abs=1e-12)
    assert kendall_tau(true, true) == pytest.approx(1.0)
    assert spearman_rho(-true, true) == pytest.approx(-1.0)


def test_rank_metrics_on_a_whole_space_are_fast() -> None:
    """Every NB201 cell (n = 15,625): an O(n^2) pairwise tau took 1.5 s here; scipy's takes milliseconds."""
    import time

    rng = np.random.default_rng(0)
    true = rng.normal(size=15_625).round(2)  # ties, as table accuracies have
    pred = true + rng.normal(size=true.size)
    started = time.process_time()
    tau, rho = kendall_tau(pred, true), spearman_rho(pred, true)
    assert time.process_time() - started < 0.3
    assert 0.3 < tau < rho < 1.0
    assert np.isnan(kendall_tau(np.ones(5), np.arange(5.0))) and np.isnan(spearman_rho(np.ones(5), np.arange(5.0)))


def test_precision_at_k_by_hand() -> None:
    true = np.array([10.0, 9.0, 8.0, 7.0, 6.0, 5.0])
    pred = np.array([0.9, 0.1, 0.8, 0.7, 0.2, 0.3])  # predicted top 3: items 0, 2, 3; true top 3: 0, 1, 2
    assert precision_at_k(pred, true, 3) == pytest.approx(2 / 3)
    assert precision_at_k(true, true, 6) == 1.0
    with pytest.raises(ValueError, match="k must be in 1..6"):
        precision_at_k(pred, true, 0)


def test_one_hot_ops() -> None:
    hot = one_hot_ops(np.array([[0, 1, 2, 3, 4, 0]]))
    assert hot.shape == (1, 30) and hot.sum() == 6 and hot[0, 5 + 1] == 1 and hot[0, 25] == 1


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    """A tiny untrained VAE + ICNN + predictor saved as `crlso train` saves them."""
    torch.manual_seed(0)
    predictor, icnn = build_predictor(TINY), build_icnn(TINY)
    for module in (predictor, icnn):
        module.register_buffer("target_mean", torch.tensor(0.1))
        module.register_buffer("target_std", torch.tensor(0.05))
    path = tmp_path_factory.mktemp("model") / "checkpoint.pt"
    save_checkpoint(path, models={"vae": build_vae(TINY), "icnn": icnn, "predictor": predictor}, model_config=TINY)
    return str(path)


def _cells(count: int) -> list[str]:
    space = get_space("nb201")
    return [str(space.sample(np.random.default_rng(i))) for i in range(count)]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_rank_round_trips_a_file(tmp_path, checkpoint: str, suffix: str) -> None:
    cells = _cells(6)
    source = tmp_path / "cells.jsonl"
    lines = [json.dumps(get_space("nb201").parse(c).to_json()) for c in cells[:3]] + [json.dumps(c) for c in cells[3:]]
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / f"ranked{suffix}"
    assert main(["rank", str(source), "--checkpoint", checkpoint, "--out", str(out)]) == 0
    if suffix == ".csv":
        rows = list(csv.DictReader(out.open()))
    else:
        rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["genotype"] for r in rows) == sorted(cells)
    assert [int(r["rank"]) for r in rows] == list(range(1, 7))
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True) and all(np.isfinite(scores))
    assert {"score_icnn", "score_predictor"} <= set(rows[0])  # ranked by the mean of both heads
    assert sorted(int(r["line"]) for r in rows) == list(range(1, 7))


def test_rank_reports_a_malformed_line(tmp_path, checkpoint: str, capsys) -> None:
    cells = _cells(4)
    source = tmp_path / "cells.txt"
    source.write_text(f"# candidates\n{cells[0]}\n{cells[1]}\n|nor_conv_3x3~0|+|bogus~0|\n\n{cells[2]}\n{cells[3]}\n")
    out = tmp_path / "ranked.jsonl"
    assert main(["rank", str(source), "--checkpoint", checkpoint, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "line 4" in err and "bogus" in err and not out.exists()
    assert main(["rank", str(source), "--checkpoint", checkpoint, "--out", str(out), "--on-error", "skip", "--by", "icnn"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["genotype"] for r in rows) == sorted(cells)
    assert "line 4" in capsys.readouterr().err
    assert json.loads((tmp_path / "rank_errors.jsonl").read_text())["line"] == 4


def test_read_genotypes_json_list_and_bad_items(tmp_path) -> None:
    cells = _cells(2)
    path = tmp_path / "cells.json"
    path.write_text(json.dumps([cells[0], {"space": "nb201", "string": "nope"}, cells[1], 7]))
    good, bad = read_genotypes(path)
    assert [n for n, _ in good] == [1, 3] and [str(g) for _, g in good] == cells
    assert [b.line for b in bad] == [2, 4]
    with pytest.raises(ValueError, match="valid: auto, json, jsonl, text"):
        read_genotypes(path, fmt="yaml")


def test_blend_ranks() -> None:
    first, second = np.array([3.0, 1.0, 2.0, 2.0]), np.array([0.0, 10.0, 5.0, 1.0])
    np.testing.assert_allclose(blend_ranks(first, second, 0.0), [1.0, 0.25, 0.625, 0.625])
    np.testing.assert_allclose(blend_ranks(first, second, 1.0), [0.25, 1.0, 0.75, 0.5])
    assert kendall_tau(blend_ranks(first, second, 0.5), first + second) > 0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        blend_ranks(first, second, 1.5)


def test_rank_benchmark_tiny(nb201_cifar10, tiny_crlso_options) -> None:
    """A tiny B2 run: every model, part and baseline scored on the unlabelled cells; bad settings refused."""
    pytest.importorskip("sklearn")
    from crlso.ranking.model import RankModelConfig

    config = RankBenchConfig(ns=(60,), seeds=(0,), ranker=RankModelConfig(ensemble=1, epochs=5, forest_trees=20), rf_trees=5,
                             cache_dir=tiny_crlso_options["cache_dir"], model=tiny_crlso_options["model"],
                             pretrain=tiny_crlso_options["pretrain"])
    with pytest.raises(ValueError, match="forest_weight"):
        RankModelConfig(forest_weight=2.0)
    for bad, match in [({"space": "nb999"}, "valid: nb201, darts"), ({"ns": (15_600,)}, "n must be in")]:
        with pytest.raises(ValueError, match=match):
            run_rank_benchmark(dataclasses.replace(config, **bad), table=nb201_cifar10, progress=False)
    result = run_rank_benchmark(config, table=nb201_cifar10, progress=False)
    (run,) = result["runs"]
    expected = set(MODELS) - {"latent_proxy"}  # no proxy files given
    assert expected <= set(run) and "latent_proxy" not in run and run["n"] == 60
    assert all(-1 <= run[m]["tau"] <= 1 and 0 <= run[m]["p_at_k"] <= 1 for m in expected)
    assert run["cell_forest"]["tau"] > 0.3  # the genotype-only path features already rank well
    assert run["params"]["tau"] > 0.3  # bigger NB201 cells are better, no label needed
    assert set(result["summary"][60]) == expected and "| 60 |" in format_rank_table(result)


def test_rank_refuses_a_checkpoint_of_another_space(tmp_path, capsys) -> None:
    darts = dataclasses.replace(TINY, space="darts")
    other = tmp_path / "darts.pt"
    save_checkpoint(other, models={"vae": build_vae(darts), "predictor": build_predictor(darts)}, model_config=darts)
    source = tmp_path / "cells.txt"
    source.write_text("\n".join(_cells(3)) + "\n")
    out = tmp_path / "ranked.csv"
    assert main(["rank", str(source), "--checkpoint", str(other), "--space", "nb201", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "'darts' space" in err and "--space is 'nb201'" in err
    assert main(["rank", str(source), "--checkpoint", str(other), "--out", str(out)]) == 2  # read as darts genotypes
    assert "line 1" in capsys.readouterr().err and not out.exists()


def test_rank_refuses_to_overwrite_its_input(tmp_path, checkpoint: str, capsys) -> None:
    from crlso.cli import main

    path = tmp_path / "x.txt"
    cell = _cells(1)[0]
    path.write_text(cell + "\n")
    assert main(["rank", str(path), "--checkpoint", checkpoint, "--out", str(path)]) == 2
    assert "is the input file" in capsys.readouterr().err
    assert path.read_text() == cell + "\n"
