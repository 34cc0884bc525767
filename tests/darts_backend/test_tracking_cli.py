"""darts-backend search --tensorboard: event files with each epoch's losses and alphas."""

from __future__ import annotations

import pytest


def _scalars(log_dir) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_darts_backend_search_logs_losses_and_alphas(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    from darts_backend.cli import main

    assert main(["search", "--method", "darts", "--data", "synthetic", "--epochs", "2", "--limit-train", "32",
                 "--channels", "4", "--cells", "1", "--batch-size", "16", "--no-progress", "--out", str(tmp_path / "run"),
                 "--tensorboard", str(tmp_path / "tb")]) == 0
    scalars = _scalars(tmp_path / "tb")
    assert [s for s, _ in scalars["train/loss"]] == [1, 2]
    alpha_tags = [t for t in scalars if t.startswith("alphas/edge0-1/")]
    assert len(alpha_tags) == 5  # the five NB201 ops of the first edge
    first_epoch = sum(values[0][1] for tag, values in scalars.items() if tag.startswith("alphas/edge0-1/"))
    assert first_epoch == pytest.approx(1.0, abs=1e-5)  # a softmax over the ops
    capsys.readouterr()


def test_dnad_search_logs_losses_and_per_cell_alphas(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    from darts_backend.cli import main

    assert main(["search", "--method", "dnad", "--space", "darts", "--data", "synthetic", "--epochs", "2",
                 "--limit-train", "32", "--channels", "2", "--cells", "3", "--nodes", "2", "--batch-size", "16",
                 "--no-progress", "--out", str(tmp_path / "run"), "--tensorboard", str(tmp_path / "tb")]) == 0
    scalars = _scalars(tmp_path / "tb")
    assert [s for s, _ in scalars["train/loss"]] == [1, 2]
    cells = {t.split("/")[1] for t in scalars if t.startswith("alphas/")}
    assert cells == {"cell0", "cell1", "cell2"}  # one alpha set per cell of the per-cell supernet
    first_node = [values[0][1] for tag, values in scalars.items()  # node 0 reads edges 0 and 1
                  if tag.startswith(("alphas/cell0/edge0/", "alphas/cell0/edge1/"))]
    assert sum(first_node) == pytest.approx(1.0, abs=1e-5)  # DNAD normalises the pair weights per node
    capsys.readouterr()
