"""``--device`` on crlso's commands: checked before any work, handed to the models through ``$CRLSO_DEVICE``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crlso.cli import main
from crlso.models.config import DEVICE_ENV, default_device, resolve_device

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal where CUDA is absent")


def test_resolve_device_names() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("gpu", "cuda:x", "", "cuda:-1"):
        with pytest.raises(ValueError, match="unknown device"):
            resolve_device(bad)


@NO_CUDA
def test_cuda_without_cuda_is_refused_by_name() -> None:
    for name in ("cuda", "cuda:0"):
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device(name)


def test_default_device_follows_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert default_device() == torch.device("cpu")
    monkeypatch.setenv(DEVICE_ENV, "tpu")
    with pytest.raises(ValueError, match="tpu"):
        default_device()


COMMANDS = {
    "search": ["search", "--method", "random", "--budget", "3"],
    "compare": ["compare", "--methods", "random", "--seeds", "1", "--budgets", "3"],
    "train": ["train", "--labels", "10"],
    "rank-bench": ["rank-bench", "--n", "10", "--seeds", "1"],
}


@NO_CUDA
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_device_cuda_without_cuda_is_a_one_line_error_before_any_work(command: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "never"
    assert main([*COMMANDS[command], "--out", str(out), "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no CUDA device" in err and not out.exists()


def test_device_cpu_runs_and_reaches_the_environment(tmp_path: Path, monkeypatch, data_store) -> None:
    monkeypatch.setenv(DEVICE_ENV, "auto")  # recorded, so the value --device writes is undone after the test
    assert main([*COMMANDS["search"], "--out", str(tmp_path / "run"), "--device", "cpu"]) == 0
    assert (tmp_path / "run" / "summary.json").is_file()
    import os

    assert os.environ[DEVICE_ENV] == "cpu"
