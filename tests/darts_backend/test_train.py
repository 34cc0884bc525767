"""Run records: config.json holds what ran; the train loop reads the device once per epoch, not per step."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from darts_backend.runs.files import save_checkpoint
from darts_backend.runs.search import SearchRunConfig, run_search
from darts_backend.runs.train import TrainConfig, run_train
from darts_backend.runs.trainer import CHECKPOINT
from nasspace.flex import reduction_layout
from nasspace.space import get_space


def test_search_config_json_records_the_epochs_that_ran(tmp_path: Path) -> None:
    config = SearchRunConfig(method="single-darts", channels=2, cells=1, epochs=1, batch_size=16, limit_train=16)
    run_search(config, tmp_path, progress=False)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["epochs"] == 1 and saved["optim"]["epochs"] == 1  # the cosine schedule ran over 1 epoch
    assert saved["resolved_threads"] == torch.get_num_threads()


def _syncs_of_a_train_run(tmp_path: Path, images: int, counter) -> int:
    genotype = tmp_path / "g.json"
    genotype.write_text(json.dumps(get_space("flex").sample(0, layout=reduction_layout(3), k=2).to_json()))
    config = TrainConfig(genotype=str(genotype), channels=2, cells=3, epochs=1, batch_size=16, limit_train=images)
    with counter:
        run_train(config, tmp_path / f"run{images}", progress=False)
    return len(counter.calls)


def test_train_syncs_per_epoch_do_not_grow_with_the_steps(tmp_path: Path, sync_counter) -> None:
    two_steps = _syncs_of_a_train_run(tmp_path, 32, sync_counter)
    sync_counter.calls.clear()
    four_steps = _syncs_of_a_train_run(tmp_path, 64, sync_counter)  # 4 train and 4 test batches
    assert four_steps == two_steps, sync_counter.calls


def test_a_run_stored_before_the_epochs_were_resolved_still_resumes(tmp_path: Path) -> None:
    config = SearchRunConfig(method="single-darts", channels=2, cells=1, epochs=2, batch_size=16, limit_train=16)
    trainer_epochs = SearchRunConfig(**{**config.__dict__, "epochs": 1})
    run_search(trainer_epochs, tmp_path, progress=False)  # one epoch of a two-epoch schedule, then "interrupted"
    state = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    old = json.loads(state["run_config"])
    old.update(epochs=2, optim={**old["optim"], "epochs": 50})  # as the older version stored a 2-epoch run
    state["run_config"] = json.dumps(old)
    save_checkpoint(tmp_path / CHECKPOINT, state)
    run_search(config, tmp_path, resume=True, progress=False)
    assert json.loads((tmp_path / "config.json").read_text())["optim"]["epochs"] == 2


def test_numeric_flags_are_validated_before_training(tmp_path: Path, capsys) -> None:
    """Issue 16 item 8: --epochs 0 used to write test_acc NaN, --lr nan trained garbage with exit 0."""
    import pytest

    from darts_backend.cli import main

    for flag, value in (("--epochs", "0"), ("--lr", "nan"), ("--batch-size", "-3"), ("--limit-train", "0")):
        assert main(["train", "--genotype", str(tmp_path / "g.json"), "--data", "synthetic", "--out", str(tmp_path / "t"),
                     flag, value]) == 2
        err = capsys.readouterr().err
        assert "allowed:" in err and err.count("\n") == 1, (flag, err)
    assert not (tmp_path / "t").exists()
    with pytest.raises(ValueError, match=r"option limit_train=0 is out of range; allowed: an integer >= 1"):
        SearchRunConfig(limit_train=0)


def test_a_corrupt_checkpoint_or_an_out_that_is_a_file_is_one_line(tmp_path: Path, capsys) -> None:
    """Issue 16 items 6 and 7: raw UnpicklingError/EOFError/NotADirectoryError tracebacks before."""
    from darts_backend.cli import main

    base = ["search", "--method", "single-darts", "--data", "synthetic", "--channels", "2", "--cells", "1",
            "--epochs", "1", "--batch-size", "16", "--limit-train", "16", "--no-progress"]
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    assert main([*base, "--out", str(a_file)]) == 2
    err = capsys.readouterr().err
    assert str(a_file) in err and err.count("\n") == 1
    out = tmp_path / "run"
    assert main([*base, "--epochs", "2", "--out", str(out)]) == 0
    for damage in (b"\x80\x04garbage", (out / CHECKPOINT).read_bytes()[:200]):
        (out / CHECKPOINT).write_bytes(damage)
        assert main([*base, "--epochs", "2", "--out", str(out), "--resume"]) == 2
        err = capsys.readouterr().err
        assert f"{out / CHECKPOINT} is damaged or not a checkpoint" in err and err.count("\n") == 1


def test_a_second_writer_of_a_supernet_run_folder_is_refused(tmp_path: Path, capsys) -> None:
    """Issue 16 item 4: two runs into one --out both exited 0 and interleaved their files."""
    from darts_backend.cli import main
    from nasspace.atomic import folder_lock

    out = tmp_path / "run"
    with folder_lock(out):  # another darts-backend search is writing here
        assert main(["search", "--method", "single-darts", "--data", "synthetic", "--channels", "2", "--cells", "1",
                     "--epochs", "1", "--batch-size", "16", "--limit-train", "16", "--no-progress", "--out", str(out)]) == 2
    assert "is in use by another darts-backend run" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [".lock"]
