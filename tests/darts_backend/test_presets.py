"""Presets: each method's published setting (``paper``) and a CPU-sized run of it (``cpu``), as run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from darts_backend.cli import main
from darts_backend.runs.presets import preset_values
from darts_backend.runs.search import SearchRunConfig
from darts_backend.runs.set_search import DartsSearchConfig
from nasspace.flex import reduction_layout
from nasspace.space import get_space


def test_nb201_paper_preset_is_xautodls_darts_setting() -> None:
    config = SearchRunConfig(method="single-darts", **preset_values("paper", "single-darts", "nb201"), preset="paper")
    assert (config.channels, config.cells, config.epochs, config.batch_size, config.limit_train) == (16, 5, 50, 64, None)
    o = config.optim
    assert (o.w_lr, o.w_lr_min, o.w_momentum, o.w_nesterov, o.w_weight_decay) == (0.025, 1e-3, 0.9, True, 5e-4)
    assert (o.a_lr, o.a_betas, o.a_weight_decay, o.epochs) == (3e-4, (0.5, 0.999), 1e-3, 50)


def test_dnad_paper_preset_is_nadds_setting() -> None:
    values = preset_values("paper", "dnad", "darts")
    config = DartsSearchConfig(**values, teacher_checkpoint="teacher.pt", preset="paper")
    s = config.searcher_config()
    assert (config.epochs, config.batch_size, config.channels, config.teacher_channels) == (120, 128, 16, 36)
    assert (s.w_lr, s.w_betas, s.w_weight_decay, s.a_optimizer, s.a_lr) == (5e-4, (0.5, 0.999), 3e-4, "sgd", 0.2)
    assert (s.gamma_init, s.gamma_max, s.gamma_up, s.gamma_down) == (1e-4, 0.1, 1.01, 0.99)
    assert (s.mu_init, s.mu_factor, s.s_floor, s.warmup_epochs) == (0.1, 1.5, 250.0, 0)


def test_unknown_preset_or_pair_is_refused() -> None:
    with pytest.raises(ValueError, match="valid presets: paper, cpu"):
        preset_values("fast", "dnad", "darts")
    with pytest.raises(ValueError, match="no preset"):
        preset_values("cpu", "dnad", "nb201")


def test_cpu_preset_lands_in_config_json_with_the_flags_that_override_it(tmp_path: Path) -> None:
    out = tmp_path / "sd"
    code = main(["search", "--method", "single-darts", "--space", "nb201", "--data", "synthetic", "--out", str(out),
                 "--preset", "cpu", "--epochs", "1", "--limit-train", "64", "--no-progress"])
    saved = json.loads((out / "config.json").read_text())
    assert code == 0 and saved["preset"] == "cpu"
    assert (saved["channels"], saved["cells"], saved["batch_size"], saved["valid_fraction"]) == (8, 1, 64, 0.5)  # preset
    assert (saved["epochs"], saved["optim"]["epochs"], saved["limit_train"]) == (1, 1, 64)  # flags, as run
    assert (saved["optim"]["w_lr"], saved["optim"]["w_nesterov"], saved["optim"]["a_lr"]) == (0.025, True, 3e-4)


def test_dnad_paper_preset_needs_a_trained_teacher_and_lands_in_config_json(tmp_path: Path, capsys) -> None:
    # 143 images: 129 train after the 10% held out for the snapshots' accuracy, one batch of the preset's 128
    small = ["--channels", "2", "--cells", "3", "--nodes", "2", "--epochs", "1", "--limit-train", "143", "--no-progress"]
    assert main(["search", "--method", "dnad", "--space", "darts", "--data", "synthetic", "--out", str(tmp_path / "x"),
                 "--preset", "paper", *small]) == 2
    assert "--teacher-checkpoint" in capsys.readouterr().err and not (tmp_path / "x").exists()

    genotype = tmp_path / "teacher.json"
    genotype.write_text(json.dumps(get_space("flex").sample(3, layout=reduction_layout(3), k=2).to_json()))
    assert main(["train", "--genotype", str(genotype), "--data", "synthetic", "--out", str(tmp_path / "teacher"),
                 "--channels", "2", "--cells", "3", "--epochs", "1", "--batch-size", "16", "--limit-train", "32",
                 "--no-progress"]) == 0
    out = tmp_path / "dnad"
    code = main(["search", "--method", "dnad", "--space", "darts", "--data", "synthetic", "--out", str(out),
                 "--preset", "paper", "--teacher-checkpoint", str(tmp_path / "teacher" / "checkpoint.pt"),
                 "--option", "gamma_max=0.2", *small])
    saved = json.loads((out / "config.json").read_text())
    s = saved["searcher"]
    assert code == 0 and saved["preset"] == "paper" and (saved["batch_size"], saved["epochs"]) == (128, 1)
    assert (s["gamma_init"], s["gamma_max"], s["mu_init"], s["mu_factor"], s["s_floor"]) == (1e-4, 0.2, 0.1, 1.5, 250.0)
    assert (s["w_lr"], s["w_weight_decay"], s["a_lr"], s["warmup_epochs"], s["epochs"]) == (5e-4, 3e-4, 0.2, 0, 1)
    assert json.loads((out / "metrics.jsonl").read_text().splitlines()[0])["kd"] > 0  # it distilled
