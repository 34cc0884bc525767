"""``crlso report``: compare/search folders and darts-backend folders give a self-contained page."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest

from crlso.cli import main
from crlso.execution.executors import Executor
from crlso.experiments.compare import run_comparison
from crlso.experiments.run import RunConfig, run_experiment
from crlso.report import ReportOptions, build_report, detect_kind
from crlso.report.search import _kernel_ridge

NB201_OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|none~0|nor_conv_1x1~1|avg_pool_3x3~2|"


class SerialExecutor(Executor):
    """Runs tasks one after another in this process (a test fake: no process start-up)."""

    name = "serial"

    def map(self, fn, items, *, desc="tasks", progress=True):
        return [fn(item) for item in items]


def _embedded_pngs(page: Path) -> list[bytes]:
    text = page.read_text()
    assert "http://" not in text and "https://" not in text and "<script" not in text  # nothing fetched
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)]


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data))


@pytest.fixture
def nb201_darts_run(tmp_path) -> Path:
    run = tmp_path / "single-darts-s0"
    run.mkdir()
    rng = np.random.default_rng(0)
    history = [{"epoch": e, "genotype": CELL, "alphas": rng.dirichlet(np.ones(5), size=6).tolist()} for e in (1, 2, 3)]
    _write_json(run / "alphas.json", {"method": "single-darts", "space": "nb201", "ops": NB201_OPS,
                                      "edges": [[0, 1], [0, 2], [1, 2], [0, 3], [1, 3], [2, 3]], "history": history})
    _write_json(run / "genotype.json", {"space": "nb201", "format_version": 1, "string": CELL,
                                        "ops": ["nor_conv_3x3", "nor_conv_3x3", "skip_connect", "none", "nor_conv_1x1", "avg_pool_3x3"]})
    _write_json(run / "config.json", {"method": "single-darts", "space": "nb201", "seed": 0, "channels": 8, "cells": 1})
    _write_json(run / "result.json", {"method": "single-darts", "seed": 0, "genotype": CELL, "nb201_cifar10_test_acc": 93.1})
    (run / "metrics.jsonl").write_text("".join(json.dumps({"epoch": e, "acc": 0.1 * e, "loss": 2.0 / e, "genotype": CELL}) + "\n"
                                               for e in (1, 2, 3)))
    return run


def test_darts_nb201_run_report(nb201_darts_run, tmp_path, data_store) -> None:
    assert detect_kind(nb201_darts_run) == "darts"
    page = build_report(nb201_darts_run, out_dir=tmp_path / "out")
    text = page.read_text()
    for heading in ("Alpha evolution", "Training curves", "Derived cell"):
        assert heading in text
    assert "skipped" not in text and "Latent space" not in text  # no empty boxes
    # the split of each curve is named; the table accuracy of each epoch's derived cell sits beside it
    assert "The NB201 lines are the benchmark table" in text and "training batches (train split)" in text
    assert "<th>NB201 CIFAR-10 test_acc</th>" in text and "<td>30.00</td>" in text  # per epoch: table accuracy beside acc 0.3
    pngs = _embedded_pngs(page)
    assert len(pngs) == 4 and all(p.startswith(b"\x89PNG") for p in pngs)
    assert {p.name for p in (tmp_path / "out").glob("*.png")} == {"alpha_history.png", "accuracy.png", "loss.png", "cell.png"}


def test_darts_genotype_set_report(tmp_path) -> None:
    run = tmp_path / "dnad"
    run.mkdir()
    ops = ["sep_conv_3x3", "skip_connect", "dil_conv_5x5"]
    alive = [[[0.5, 0.5, 0.0]] * 2 + [[0.0, 0.0, 0.0]]] * 2  # 2 cells, 3 edges (one removed), 3 ops
    _write_json(run / "alphas.json", {"method": "dnad", "space": "flex", "ops": ops, "layout": ["normal", "reduce"],
                                      "history": [{"epoch": 1, "alphas": alive}, {"epoch": 2, "alphas": alive}]})
    cell = {"type": "normal", "nodes": [[["skip_connect", 0]], [["sep_conv_3x3", 1], ["skip_connect", 0]]]}
    entries = [{"space": "flex", "cells": [cell], "params": 0.2 - 0.05 * i, "flops": 30.0 - 5 * i, "search_acc": 0.9 - 0.01 * i,
                "heldout_acc": 0.5 + 0.01 * i, "epoch": i + 1, "reason": "milestone"} for i in range(3)]
    _write_json(run / "genotypes.json", entries)
    page = build_report(run, out_dir=tmp_path / "out")
    text = page.read_text()
    assert "Genotype set" in text and "(op, input) pairs" in text and "milestone" in text
    assert "held-out acc (%)" in text and ">52.00</td>" in text  # the held-out accuracy, in percent
    assert "search acc" not in text and "retrained acc (%)" not in text and "retrain-set" in text
    # after darts-backend retrain-set: the retrained accuracy beside it
    _write_json(run / "genotypes.json", [{**e, "retrained_acc": 0.6 + 0.02 * i, "retrained_test_acc": 0.58, "retrained_front": i == 2,
                                          "retrain": {"settings": {"epochs": 3, "channels": 8, "cells": 2}}}
                                         for i, e in enumerate(entries)])
    text = build_report(run, out_dir=tmp_path / "out").read_text()
    assert "retrained acc (%)" in text and ">64.00</td>" in text and "epochs 3, channels 8, cells 2" in text
    assert (tmp_path / "out" / "genotype_set.png").exists() and (tmp_path / "out" / "alpha_history.png").exists()
    assert len(_embedded_pngs(page)) == 2


def test_not_a_run_folder(tmp_path, capsys) -> None:
    with pytest.raises(FileNotFoundError, match="compare.json"):
        detect_kind(tmp_path)
    assert main(["report", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_compare_report_without_cached_model(tmp_path, capsys, data_store) -> None:
    out = tmp_path / "cmp"
    run_comparison(methods=["random", "rea"], seeds=[0, 1], budgets=[5, 10], out_dir=out, executor=SerialExecutor(), progress=False)
    code = main(["report", str(out), "--cache-dir", str(tmp_path / "empty-cache")])
    assert code == 0 and "report:" in capsys.readouterr().out
    page = out / "report" / "report.html"
    text = page.read_text()
    assert ">random</td>" in text and ">rea</td>" in text
    assert "no cached pre-trained VAE" in text  # latent sections skipped with a note, not an error
    assert len(_embedded_pngs(page)) == 2  # curves and cells
    assert (out / "report" / "best_so_far.png").exists() and (out / "report" / "best_cells.png").exists()


def test_kernel_ridge_fits_a_smooth_function() -> None:
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(600, 4))
    truth = np.sin(codes[:, 0]) + 0.5 * codes[:, 1]
    train = rng.choice(600, 80, replace=False)
    predicted, (length, ridge) = _kernel_ridge(codes, train, truth[train])
    held = np.setdiff1d(np.arange(600), train)
    assert predicted.shape == (600,) and np.isfinite(predicted).all() and length > 0 and ridge > 0
    assert np.corrcoef(predicted[held], truth[held])[0, 1] > 0.8


@pytest.mark.slow  # pre-trains a tiny VAE and encodes all 15,625 cells: ~30 s on a loaded 2-core machine
def test_search_report_with_latent_sections(tmp_path, data_store, tiny_crlso_options) -> None:
    run = tmp_path / "crlso"
    run_experiment(RunConfig(method="crlso", budget=12, seed=0, options=tiny_crlso_options), run, progress=False)
    page = build_report(run, out_dir=tmp_path / "out", options=ReportOptions(map_points=2000))
    text = page.read_text()
    assert "Latent space map" in text and "Predicted vs true" in text and "Kendall tau" in text
    assert len(_embedded_pngs(page)) == 4


def test_supernet_oracle_run_reports_its_own_metric(tmp_path) -> None:
    """A search whose oracle is a supernet (no table) has no test metric: the page reports the search metric."""
    from crlso.experiments.run import summarize
    from nasspace.atomic import write_json_atomic
    from nasspace import get_space

    space = get_space("darts")
    cells = [str(space.sample(np.random.default_rng(i))) for i in range(6)]
    values = [10.0, 14.0, 12.0, 19.0, 18.0, 11.0]
    config = RunConfig(method="random", space="darts", budget=6, search_metric="supernet_acc", supernet=str(tmp_path))
    summary = summarize(config, cells, values, None)
    assert summary["best"] == {"step": 4, "genotype": cells[3], "supernet_acc": 19.0}
    assert summary["report_metric"] == "supernet_acc" and summary["queries_to_optimum"] is None
    assert summary["best_so_far"] == [10.0, 14.0, 14.0, 19.0, 19.0, 19.0]
    run = tmp_path / "run"
    write_json_atomic(run / "config.json", config.to_json())
    write_json_atomic(run / "summary.json", summary)
    (run / "queries.jsonl").write_text("".join(json.dumps({"step": i + 1, "genotype": g, "value": v}) + "\n"
                                               for i, (g, v) in enumerate(zip(cells, values))))
    html = build_report(run).read_text()
    assert "supernet_acc" in html and "test_acc" not in html


def test_accepted_folder_kinds(tmp_path, capsys) -> None:
    """hybrid, train and rank-bench folders are reported too; anything else is refused with the list of kinds."""
    from crlso.report import KINDS

    assert KINDS == ("compare", "search", "hybrid", "train", "rank-bench", "darts")
    train = tmp_path / "train"
    train.mkdir()
    _write_json(train / "config.json", {"space": "nb201", "dataset": "cifar10", "seed": 3, "labels": 100, "model": {"latent_dim": 16}})
    _write_json(train / "summary.json", {"labels": 100, "kendall_tau_icnn_unlabelled": 0.61234, "seconds": 12.5})
    (train / "checkpoint.pt").write_bytes(b"")
    assert detect_kind(train) == "train"
    text = build_report(train, out_dir=tmp_path / "train-out").read_text()
    assert "crlso train: nb201 / cifar10" in text and "kendall_tau_icnn_unlabelled" in text and "0.6123" in text
    assert "model.latent_dim" in text

    bench = tmp_path / "bench"
    bench.mkdir()
    _write_json(bench / "rank_bench.json", {"config": {"dataset": "cifar10", "k": 50}, "runs": [{}, {}], "summary": {}, "seconds": 4.0})
    (bench / "table.md").write_text("| n | tau |\n|---|---|\n| 100 | 0.500 ± 0.010 |\n\n± is the 95% half-width.\n")
    assert detect_kind(bench) == "rank-bench"
    text = build_report(bench, out_dir=tmp_path / "bench-out").read_text()
    assert "<td>100</td>" in text.replace(" ", "") or ">100</td>" in text
    assert "0.500 ± 0.010" in text and "95% half-width" in text

    hybrid = tmp_path / "hybrid"
    search = hybrid / "search"
    search.mkdir(parents=True)
    _write_json(search / "config.json", RunConfig(method="random", budget=2, seed=0).to_json())
    summary = {"method": "random", "seed": 0, "budget": 2, "n_queries": 2, "search_metric": "valid_acc", "report_metric": "test_acc",
               "best": {"step": 1, "genotype": CELL, "valid_acc": 80.0, "test_acc": 81.0}, "best_so_far": [81.0, 81.0],
               "optimum": None, "queries_to_optimum": None, "wall_seconds": 0.1}
    _write_json(search / "summary.json", summary)
    (search / "queries.jsonl").write_text(json.dumps({"step": 1, "genotype": CELL, "value": 80.0}) + "\n")
    _write_json(hybrid / "hybrid.json", {"supernet": "/runs/sd", "seeds": [CELL], "search": str(search)})
    assert detect_kind(hybrid) == "hybrid"
    text = build_report(hybrid, out_dir=tmp_path / "hybrid-out", options=ReportOptions(latent=False)).read_text()
    assert "crlso hybrid: random" in text and "Hybrid seeding" in text and "/runs/sd" in text and "Best-so-far" in text

    other = tmp_path / "other"
    other.mkdir()
    assert main(["report", str(other)]) == 2
    err = capsys.readouterr().err
    assert "not a run folder" in err and "rank_bench.json" in err and "hybrid.json" in err


def test_report_status_line(nb201_darts_run, tmp_path, capsys) -> None:
    """With progress on, each slow step is named on stderr while it runs; off, stderr stays quiet."""
    build_report(nb201_darts_run, out_dir=tmp_path / "quiet", options=ReportOptions())
    assert capsys.readouterr().err == ""
    build_report(nb201_darts_run, out_dir=tmp_path / "loud", options=ReportOptions(progress=True))
    assert "crlso report: training curves" in capsys.readouterr().err
