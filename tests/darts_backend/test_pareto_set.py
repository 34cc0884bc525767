"""A real Pareto set: the front filter, the held-out accuracy of each snapshot, and retraining the set."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from darts_backend.cli import main
from darts_backend.data import ImageSet
from darts_backend.runs import retrain as retrain_module
from darts_backend.runs import set_search, train
from darts_backend.runs.pareto import pareto_indices, plot_pareto
from darts_backend.runs.retrain import retrain_set
from darts_backend.runs.set_search import DartsSearchConfig, run_darts_search, select_set
from darts_backend.runs.train import TrainConfig

N_IMAGES = 60


def _point(acc: float | None, params: float, flops: float = 1.0) -> dict:
    return {"heldout_acc": acc, "params": params, "flops": flops}


def test_the_filter_keeps_exactly_the_non_dominated_points() -> None:
    points = [
        _point(0.90, 5.0, flops=50),   # 0: front (most accurate)
        _point(0.85, 3.0, flops=20),   # 1: front
        _point(0.80, 4.0, flops=10),   # 2: dominated by 1 on params (not on flops)
        _point(0.90, 6.0, flops=60),   # 3: dominated by 0 (same accuracy, larger)
        _point(0.70, 1.0, flops=5),    # 4: front (smallest)
        _point(None, 0.5, flops=1),    # 5: not measured: never on the front
        _point(0.85, 3.0, flops=20),   # 6: equal to 1: neither dominates the other
        _point(0.60, 1.0, flops=5),    # 7: dominated by 4 (same size, less accurate)
        _point(math.nan, 0.1, flops=1),  # 8: not measured
    ]
    assert pareto_indices(points, accuracy="heldout_acc", cost="params") == [0, 1, 4, 6]
    assert pareto_indices(points, accuracy="heldout_acc", cost="flops") == [0, 1, 2, 4, 6]
    with pytest.raises(ValueError, match="cost axis"):
        pareto_indices(points, accuracy="heldout_acc", cost="latency")
    with pytest.raises(ValueError, match="params"):
        pareto_indices([{"heldout_acc": 0.5}], accuracy="heldout_acc")
    flagged, kept = select_set(points, cost="params")
    assert [p["pareto"] for p in flagged] == [i in (0, 1, 4, 6) for i in range(len(points))]
    assert kept == [flagged[i] for i in (0, 1, 4, 6)]
    unmeasured = [_point(None, 2.0), _point(None, 1.0)]
    assert select_set(unmeasured)[1] == [{**p, "pareto": True} for p in unmeasured]  # no score: nothing to filter on


def test_plot_draws_measured_points(tmp_path: Path) -> None:
    path = tmp_path / "p.png"
    plot_pareto([_point(0.9, 2.0), _point(None, 1.0)], path, accuracy="heldout_acc")
    assert path.stat().st_size > 0


def _indexed_images(n: int = N_IMAGES) -> ImageSet:
    """8x8 images whose every pixel holds the image's index, so a loader's images tell which ones it holds."""
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 8, 8).clone()
    return ImageSet(images, torch.arange(n) % 10, tuple(str(c) for c in range(10)))


def _ids(loader) -> set[int]:
    return {int(v) for v in loader.images[:, 0, 0, 0].tolist()}


def test_snapshot_accuracy_is_measured_on_held_out_images(tmp_path: Path, monkeypatch) -> None:
    """The loader the snapshot score reads holds exactly the images the search never trains on, and the
    accuracy recorded is that loader's."""
    loaders: list = []

    class RecordingLoader(set_search.BatchLoader):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            loaders.append(self)

    def fingerprint(model, loader, autocast=None):  # the "accuracy" of a loader: its share of the images
        return len(loader.images) / N_IMAGES

    monkeypatch.setattr(set_search, "load_dataset", lambda *a, **k: _indexed_images())
    monkeypatch.setattr(set_search, "BatchLoader", RecordingLoader)
    monkeypatch.setattr(set_search, "evaluate", fingerprint)
    config = DartsSearchConfig(method="dnad", data="synthetic", channels=2, cells=3, nodes=2, epochs=2, batch_size=16,
                               heldout_fraction=0.25, prune_every=1,
                               options=("gamma_init=2.0", "gamma_max=5", "threshold=0.2"))
    entries = run_darts_search(config, tmp_path, progress=False)
    heldout, trained = [ld for ld in loaders if not ld.shuffle], [ld for ld in loaders if ld.shuffle]
    assert len(heldout) == 1 and len(trained) == 1
    assert _ids(heldout[0]).isdisjoint(_ids(trained[0])) and _ids(heldout[0]) | _ids(trained[0]) == set(range(N_IMAGES))
    assert len(heldout[0].images) == 15
    snapshots = json.loads((tmp_path / "snapshots.json").read_text())
    assert snapshots and all(s["heldout_acc"] == pytest.approx(15 / N_IMAGES) for s in snapshots)
    assert all(e["heldout_acc"] == pytest.approx(15 / N_IMAGES) for e in entries)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["heldout_images"] == 15 and saved["train_images"] == 45
    with pytest.raises(ValueError, match="heldout_fraction"):
        DartsSearchConfig(heldout_fraction=0.0)


def test_a_real_score_gives_accuracies_in_range_and_the_set_is_the_front(tmp_path: Path) -> None:
    config = DartsSearchConfig(method="fx-darts", data="synthetic", channels=2, cells=3, nodes=2, epochs=3, batch_size=16,
                               limit_train=64, prune_every=1, pareto_axis="flops")
    entries = run_darts_search(config, tmp_path, progress=False)
    snapshots = json.loads((tmp_path / "snapshots.json").read_text())
    assert all(0.0 <= s["heldout_acc"] <= 1.0 for s in snapshots)
    front = pareto_indices(snapshots, accuracy="heldout_acc", cost="flops")
    assert entries == [snapshots[i] for i in front] == json.loads((tmp_path / "genotypes.json").read_text())


def _fake_set(run: Path, n: int = 3) -> None:
    """A run folder holding a set of `n` genotypes of decreasing size (no search needed)."""
    from nasspace.flex import reduction_layout
    from nasspace.space import get_space

    space = get_space("flex")
    entries = [{**space.sample(i, layout=reduction_layout(3), k=2).to_json(),
                "params": 1.0 - 0.2 * i, "flops": 10.0 - i, "heldout_acc": 0.5} for i in range(n)]
    run.mkdir(parents=True, exist_ok=True)
    (run / "genotypes.json").write_text(json.dumps(entries))


TRAIN = TrainConfig(data="synthetic", channels=2, cells=3, epochs=1, batch_size=16, limit_train=40, valid_fraction=0.25,
                    device="cpu")


def test_retrain_attaches_the_held_out_accuracy(tmp_path: Path, monkeypatch) -> None:
    """``retrained_acc`` is the accuracy on the held-out share of the training images; the test split is
    recorded beside it, never used for the front."""
    seen: list[int] = []

    def fingerprint(model, loader, autocast=None):
        seen.append(len(loader.images))
        return len(loader.images) / 1000

    monkeypatch.setattr(train, "evaluate", fingerprint)
    _fake_set(tmp_path, 2)
    entries = retrain_set(tmp_path, TRAIN, progress=False)
    # synthetic data tests on the 40 (limited) training images; 10 of them are held out, 30 train
    assert sorted(set(seen)) == [10, 40]
    assert [e["retrained_acc"] for e in entries] == [pytest.approx(0.010)] * 2
    assert [e["retrained_test_acc"] for e in entries] == [pytest.approx(0.040)] * 2
    member = json.loads((tmp_path / "retrain" / "0" / "config.json").read_text())
    assert member["train_images"] == 30 and member["valid_images"] == 10
    # equal accuracy: only the smaller member is on the front
    assert [e["retrained_front"] for e in entries] == [False, True]
    assert (tmp_path / "pareto.png").stat().st_size > 0


def test_retrain_resumes_without_retraining_finished_members(tmp_path: Path, monkeypatch) -> None:
    _fake_set(tmp_path, 3)
    real = retrain_module.run_train
    trained: list[int] = []

    def crash_after_member_1(config, out_dir, **kwargs):
        trained.append(config.index)
        result = real(config, out_dir, **kwargs)
        if config.index == 1:
            raise KeyboardInterrupt  # interrupted after member 1 trained, before its accuracy was attached
        return result

    monkeypatch.setattr(retrain_module, "run_train", crash_after_member_1)
    with pytest.raises(KeyboardInterrupt):
        retrain_set(tmp_path, TRAIN, progress=False)
    on_disk = json.loads((tmp_path / "genotypes.json").read_text())
    assert trained == [0, 1] and "retrained_acc" in on_disk[0] and "retrained_acc" not in on_disk[1]

    calls: list[tuple[int, bool]] = []

    def record(config, out_dir, **kwargs):
        calls.append((config.index, kwargs["resume"]))
        return real(config, out_dir, **kwargs)

    monkeypatch.setattr(retrain_module, "run_train", record)
    entries = retrain_set(tmp_path, TRAIN, progress=False)
    # member 0 is skipped; member 1 resumes from its finished checkpoint (no epoch runs again); member 2 trains
    assert calls == [(1, True), (2, False)]
    metrics = (tmp_path / "retrain" / "1" / "metrics.jsonl").read_text().splitlines()
    assert len(metrics) == TRAIN.epochs
    assert all(0.0 <= e["retrained_acc"] <= 1.0 for e in entries)
    assert entries[0]["retrained_acc"] == on_disk[0]["retrained_acc"]
    calls.clear()
    assert retrain_set(tmp_path, TRAIN, progress=False) == entries and calls == []
    with pytest.raises(ValueError, match="other settings.*epochs"):
        retrain_set(tmp_path, replace(TRAIN, epochs=2), progress=False)
    with pytest.raises(ValueError, match="held-out share"):
        retrain_set(tmp_path, TrainConfig(data="synthetic"), progress=False)


def test_retrain_set_cli(tmp_path: Path, capsys) -> None:
    _fake_set(tmp_path, 2)
    flags = ["--data", "synthetic", "--channels", "2", "--cells", "3", "--epochs", "1", "--batch-size", "16",
             "--limit-train", "40", "--device", "cpu", "--no-progress"]
    code = main(["retrain-set", "--run", str(tmp_path), *flags])
    out = capsys.readouterr().out
    assert code == 0 and "retrained held-out acc" in out and ("*[0]" in out or "*[1]" in out)
    assert (tmp_path / "retrain" / "1" / "result.json").is_file()
    # every snapshot instead of the set: its own file and folder, the set left as it was
    before = (tmp_path / "genotypes.json").read_text()
    snapshots = [{k: v for k, v in e.items() if not k.startswith("retrain")} for e in json.loads(before)]
    (tmp_path / "snapshots.json").write_text(json.dumps(snapshots + snapshots[:1]))
    assert main(["retrain-set", "--run", str(tmp_path), "--all-snapshots", *flags]) == 0
    retrained = json.loads((tmp_path / "snapshots.json").read_text())
    assert len(retrained) == 3 and all("retrained_acc" in e for e in retrained)
    assert (tmp_path / "retrain_snapshots" / "2" / "result.json").is_file()
    assert (tmp_path / "genotypes.json").read_text() == before
    assert main(["retrain-set", "--run", str(tmp_path / "none"), "--data", "synthetic"]) == 2
