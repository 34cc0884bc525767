"""darts-backend result files name their accuracy unit; old files (fractions) still read; --cells vs flex."""

from __future__ import annotations

import json

import pytest

from darts_backend.cli import main
from darts_backend.runs.train import TrainConfig, accuracy_percent, run_train
from nasspace.flex import reduction_layout
from nasspace.space import get_space


def _flex_file(tmp_path, cells: int = 3):
    path = tmp_path / "g.json"
    path.write_text(json.dumps(get_space("flex").sample(0, layout=reduction_layout(cells), k=2).to_json()))
    return path


def test_train_result_is_in_percent_and_says_so(tmp_path, capsys):
    genotype = _flex_file(tmp_path)
    result = run_train(TrainConfig(genotype=str(genotype), channels=2, cells=3, epochs=1, batch_size=16,
                                   limit_train=32, limit_test=32, valid_fraction=0.25), tmp_path / "run", progress=False)
    written = json.loads((tmp_path / "run" / "result.json").read_text())
    assert written["test_acc_percent"] == pytest.approx(result["test_acc_percent"])
    assert "test_acc" not in written and "valid_acc" not in written  # no unit-less accuracy keys
    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert written["test_acc_percent"] == pytest.approx(100 * last["test_acc"])  # metrics.jsonl: fractions
    assert 0.0 <= written["valid_acc_percent"] <= 100.0
    assert accuracy_percent(written, "test_acc") == pytest.approx(written["test_acc_percent"])


def test_accuracy_percent_reads_old_fraction_files():
    assert accuracy_percent({"test_acc": 0.9375}, "test_acc") == pytest.approx(93.75)
    assert accuracy_percent({"test_acc_percent": 93.75}, "test_acc") == pytest.approx(93.75)
    assert accuracy_percent({"valid_acc": None}, "valid_acc") is None
    assert accuracy_percent({}, "valid_acc") is None


def test_cells_flag_against_a_flex_genotype(tmp_path, capsys):
    genotype = _flex_file(tmp_path, cells=3)
    base = ["train", "--genotype", str(genotype), "--data", "synthetic", "--channels", "2", "--epochs", "1",
            "--batch-size", "16", "--limit-train", "16", "--limit-test", "16", "--no-progress"]
    assert main([*base, "--cells", "5", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "--cells 5 does not apply to this flex genotype: it fixes its own 3 cells" in err
    assert not (tmp_path / "a").exists()
    assert main([*base, "--cells", "3", "--out", str(tmp_path / "b")]) == 0
    assert "test_acc" in capsys.readouterr().out and (tmp_path / "b" / "result.json").exists()


def test_train_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for fragment in ("network C (default 16)", "default 50", "SGD learning rate", "--limit-test", "result.json"):
        assert fragment in text
