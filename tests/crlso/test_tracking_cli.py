"""crlso search --tensorboard: event files with each query's value and the best so far."""

from __future__ import annotations

import pytest


def _scalars(log_dir) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_crlso_search_logs_value_and_best_so_far(tmp_path, nb201_cifar10, capsys):
    pytest.importorskip("tensorboard")
    from crlso.cli import main

    assert main(["search", "--method", "random", "--budget", "6", "--out", str(tmp_path / "run"),
                 "--tensorboard", str(tmp_path / "tb")]) == 0
    scalars = _scalars(tmp_path / "tb")
    values = [v for _, v in scalars["search/value"]]
    best = [v for _, v in scalars["search/best_so_far"]]
    assert [s for s, _ in scalars["search/value"]] == [1, 2, 3, 4, 5, 6]
    assert best == pytest.approx([max(values[: i + 1]) for i in range(6)])
    capsys.readouterr()
