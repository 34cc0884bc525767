"""crlso search --tensorboard: event files with each query's value and the best so far."""

from __future__ import annotations

import json

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


def test_crlso_compare_logs_each_run_in_its_own_folder(tmp_path, nb201_cifar10, capsys):
    pytest.importorskip("tensorboard")
    from crlso.cli import main

    assert main(["compare", "--methods", "random,rea", "--seeds", "0,1", "--budgets", "5", "--workers", "1",
                 "--out", str(tmp_path / "cmp"), "--tensorboard", str(tmp_path / "tb")]) == 0
    runs = {f"{p.parent.name}/{p.name}" for p in (tmp_path / "tb").glob("*/seed_*")}
    assert runs == {"random/seed_0", "random/seed_1", "rea/seed_0", "rea/seed_1"}
    values = [v for _, v in _scalars(tmp_path / "tb" / "rea" / "seed_1")["search/value"]]
    logged = [json.loads(line)["value"] for line in
              (tmp_path / "cmp" / "runs" / "rea" / "seed_1" / "queries.jsonl").read_text().splitlines()]
    assert values == pytest.approx(logged, abs=1e-4)  # the run's own queries, in order
    capsys.readouterr()
