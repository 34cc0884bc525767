"""``crlso report``: compare/search folders and darts-backend folders give a self-contained page."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest

from crlso.cli import main
from crlso.executors import Executor
from crlso.experiment import RunConfig, run_comparison, run_experiment
from crlso.report import ReportOptions, _kernel_ridge, build_report, detect_kind

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


def test_darts_nb201_run_report(nb201_darts_run, tmp_path) -> None:
    assert detect_kind(nb201_darts_run) == "darts"
    page = build_report(nb201_darts_run, out_dir=tmp_path / "out")
    text = page.read_text()
    for heading in ("Alpha evolution", "Training curves", "Derived cell", "no latent model"):
        assert heading in text
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
    _write_json(run / "genotypes.json", [{"space": "flex", "cells": [cell], "params": 0.2 - 0.05 * i, "flops": 30.0 - 5 * i,
                                          "search_acc": 0.2 + 0.01 * i, "epoch": i + 1, "reason": "milestone"} for i in range(3)])
    page = build_report(run, out_dir=tmp_path / "out")
    text = page.read_text()
    assert "Genotype set" in text and "(op, input) pairs" in text and "milestone" in text
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
    from crlso.experiment import summarize
    from crlso.atomic import write_json_atomic
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
