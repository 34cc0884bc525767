import json

import numpy as np
import pytest
import torch
from PIL import Image

import nasspace
from darts_backend.cli import main
from darts_backend.data import BatchLoader, synthetic_images
from darts_backend.runs.files import load_checkpoint
from darts_backend.searchers import SearcherConfig, create_searcher
from darts_backend.supernets import NB201SearchNetwork
from darts_backend.runs.trainer import SearchTrainer, TrainerConfig, select_device


class Interrupt(Exception):
    pass


def _trainer(method, out_dir, epochs=3):
    network = NB201SearchNetwork(C=4, N=1, generator=torch.Generator().manual_seed(0))
    searcher = create_searcher(method, network, SearcherConfig(epochs=epochs))
    data = synthetic_images(64, size=8, generator=torch.Generator().manual_seed(0))
    train, valid = data.split(0.5, generator=torch.Generator().manual_seed(1))
    return SearchTrainer(searcher, BatchLoader(train, 8, seed=0), BatchLoader(valid, 8, seed=1), out_dir,
                         TrainerConfig(epochs=epochs, progress=False))


@pytest.mark.parametrize("method", ["darts", "single-darts"])
def test_resume_continues_identically(method, tmp_path):
    straight = _trainer(method, tmp_path / "a")
    straight.fit()

    def crash(epoch, record):
        if epoch == 0:
            raise Interrupt

    first = _trainer(method, tmp_path / "b")
    with pytest.raises(Interrupt):
        first.fit(on_epoch_end=crash)
    resumed = _trainer(method, tmp_path / "b")
    assert resumed.resume() == 1
    resumed.fit()

    a, b = straight.searcher.network.state_dict(), resumed.searcher.network.state_dict()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    lines = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3]
    alphas = json.loads((tmp_path / "b" / "alphas.json").read_text())
    assert [h["epoch"] for h in alphas["history"]] == [1, 2, 3] and len(alphas["history"][0]["alphas"]) == 6
    assert alphas == json.loads((tmp_path / "a" / "alphas.json").read_text())
    state = load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    assert state["epoch"] == 3


def test_select_device():
    assert select_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="valid: auto"):
        select_device("tpu")


def test_cli_search_writes_shared_format(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        folder = tmp_path / "imgs" / "train" / cls
        folder.mkdir(parents=True)
        for i in range(16):
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    out = tmp_path / "run"
    args = ["search", "--method", "darts", "--space", "nb201", "--data", str(tmp_path / "imgs"), "--out", str(out),
            "--seed", "1", "--channels", "4", "--cells", "1", "--epochs", "1", "--batch-size", "8",
            "--device", "cpu", "--no-progress"]
    assert main(args) == 0
    genotype = nasspace.genotype_from_json(json.loads((out / "genotype.json").read_text()))
    assert genotype.space_name == "nb201"
    assert json.loads((out / "alphas.json").read_text())["history"][-1]["genotype"] == str(genotype)
    assert json.loads((out / "config.json").read_text())["channels"] == 4
    assert str(out) in capsys.readouterr().out
    assert main(args) == 2  # a checkpoint is there and --resume was not given
    assert "resume" in capsys.readouterr().err
    assert main(args + ["--resume", "--epochs", "2"]) == 2  # a different schedule is not a resume
    assert "epochs" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 0  # all epochs done: rewrites the results from the checkpoint
    assert nasspace.genotype_from_json(json.loads((out / "genotype.json").read_text())) == genotype


def test_cli_rejects_unknown_method(capsys):
    with pytest.raises(SystemExit):
        main(["search", "--method", "enas", "--data", "synthetic", "--out", "x"])
    assert "single-darts" in capsys.readouterr().err


def test_cli_bench_prints_throughput(capsys):
    assert main(["bench", "--channels", "4", "--cells", "1", "--batch-size", "4", "--steps", "1", "--warmup", "0",
                 "--device", "cpu"]) == 0
    assert "img/s" in capsys.readouterr().out


def test_a_search_prints_its_epoch_estimate_once_before_the_run_goes_on(tmp_path, capsys) -> None:
    from darts_backend.cli import main

    assert main(["search", "--method", "single-darts", "--data", "synthetic", "--out", str(tmp_path), "--channels", "4",
                 "--cells", "1", "--epochs", "2", "--batch-size", "8", "--limit-train", "160", "--no-progress"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "an epoch" in line]
    assert len(lines) == 1 and "20 steps" in lines[0] and "2 epochs to run" in lines[0]
