"""Executors: Ray and local give the same comparison; a killed run is retried and resumes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from crlso.execution.executors import LocalExecutor, RayExecutor, TaskFailed, create_executor
from crlso.experiments.compare import run_comparison
from crlso.experiments.run import RunConfig

VOLATILE = {"wall_seconds", "resumed_from_step"}  # differ between sessions, not between results


def _stable(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in VOLATILE}


def _summaries(out: Path) -> dict[str, dict]:
    return {str(p.relative_to(out)): _stable(json.loads(p.read_text())) for p in sorted(out.glob("runs/*/*/summary.json"))}


def _results(out: Path) -> dict:
    results = json.loads((out / "compare.json").read_text())["results"]
    for row in results.values():
        row.pop("mean_wall_seconds")
    return results


def _killing_task(item: tuple[RunConfig, str, str, int]) -> dict:
    """Runs a search; the first time (no marker yet) its process dies after ``kill_after`` queries."""
    import crlso.experiments.run as experiment

    config, out_dir, marker, kill_after = item
    if not os.path.exists(marker):
        Path(marker).write_text("killed once\n")
        original = experiment.run_search

        def run_search_then_die(*args, on_query, **kwargs):
            count = [0]

            def hook(query):
                on_query(query)
                count[0] += 1
                if count[0] >= kill_after:
                    os._exit(17)  # no cleanup, like a SIGKILL

            return original(*args, on_query=hook, **kwargs)

        experiment.run_search = run_search_then_die
    return experiment.run_experiment(config, out_dir, progress=False)


def _tasks(root: Path, kill_after: int) -> list[tuple[RunConfig, str, str, int]]:
    items = []
    for method in ("random", "rea"):
        config = RunConfig(method=method, seed=1, budget=20)
        run = root / "runs" / method / "seed_1"
        items.append((config, str(run), str(root / f"{method}.marker"), kill_after))
    return items


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="pip install 'crlso[ray]'")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import tests/
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False,
             object_store_memory=100 * 1024 * 1024)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory, data_store) -> Path:
    out = tmp_path_factory.mktemp("local")
    run_comparison(methods=["random", "rea"], seeds=[0, 1], budgets=[10, 20], out_dir=out,
                   executor=LocalExecutor(workers=2), progress=False)
    return out


def test_unknown_executor_and_misplaced_address() -> None:
    with pytest.raises(ValueError, match="valid: local, ray"):
        create_executor("dask")
    with pytest.raises(ValueError, match="--executor ray"):
        create_executor("local", address="auto")


def test_missing_ray_names_the_extra(monkeypatch, capsys, tmp_path) -> None:
    from crlso.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    with pytest.raises(ImportError, match=r"crlso\[ray\]"):
        create_executor("ray")
    assert main(["compare", "--methods", "random", "--seeds", "1", "--budgets", "5", "--executor", "ray",
                 "--out", str(tmp_path / "c")]) == 2
    assert "pip install 'crlso[ray]'" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()  # failed before any work


def test_ray_comparison_equals_local(local_ray, local_reference, tmp_path) -> None:
    out = tmp_path / "ray"
    result = run_comparison(methods=["random", "rea"], seeds=[0, 1], budgets=[10, 20], out_dir=out,
                            executor=RayExecutor(workers=2), progress=False)
    assert result["executor"] == "ray"
    assert _summaries(out) == _summaries(local_reference) and len(_summaries(out)) == 4
    assert _results(out) == _results(local_reference)


def test_ray_task_killed_mid_run_is_retried_and_resumes(local_ray, local_reference, tmp_path) -> None:
    items = _tasks(tmp_path, kill_after=7)
    summaries = RayExecutor(max_retries=2).map(_killing_task, items, progress=False)
    assert all(Path(item[2]).exists() for item in items)  # each task really died once
    assert [s["resumed_from_step"] for s in summaries] == [7, 7]
    reference = _summaries(local_reference)
    for summary, method in zip(summaries, ("random", "rea")):
        assert _stable(summary) == reference[f"runs/{method}/seed_1/summary.json"]
        lines = (tmp_path / "runs" / method / "seed_1" / "queries.jsonl").read_text().splitlines()
        assert [json.loads(line)["step"] for line in lines] == list(range(1, 21))  # none lost or repeated


def test_ray_gives_up_after_max_retries(local_ray) -> None:
    with pytest.raises(TaskFailed, match="failed after 1 retries"):
        RayExecutor(max_retries=1).map(_always_fails, [0, 1], progress=False)


def _always_fails(item: int) -> int:
    raise RuntimeError(f"boom {item}")


@pytest.mark.slow  # two more process pools: ~10 s on a loaded 2-core machine
def test_local_executor_retries_a_killed_worker(local_reference, tmp_path, data_store) -> None:
    items = _tasks(tmp_path, kill_after=5)[:1]
    [summary] = LocalExecutor(workers=1, max_retries=1).map(_killing_task, items, progress=False)
    assert summary["resumed_from_step"] == 5
    assert _stable(summary) == _summaries(local_reference)["runs/random/seed_1/summary.json"]


# -- issue 16 items 5 and 10 --------------------------------------------------------------------------
def _failing_task(marker: str) -> int:
    """Counts its attempts in ``marker``, then raises like a run with a bad dataset."""
    with open(marker, "a") as handle:
        handle.write("attempt\n")
    raise ValueError("unknown NB201 dataset 'cifar11'")


def test_local_executor_does_not_retry_a_task_that_raises(tmp_path) -> None:
    marker = tmp_path / "attempts"
    with pytest.raises(TaskFailed, match=r"not retried.*ValueError: unknown NB201 dataset 'cifar11'"):
        LocalExecutor(workers=1, max_retries=3).map(_failing_task, [str(marker)], progress=False)
    assert marker.read_text().count("attempt") == 1


def test_compare_checks_its_inputs_before_starting_workers(tmp_path, capsys, data_store) -> None:
    from crlso.cli import main

    base = ["compare", "--seeds", "1", "--budgets", "5", "--workers", "1"]
    assert main([*base, "--methods", "random,random", "--out", str(tmp_path / "a")]) == 2
    assert "named twice" in capsys.readouterr().err
    assert main([*base, "--methods", "random", "--dataset", "cifar11", "--out", str(tmp_path / "b")]) == 2
    assert "space 'nb201' has no table for dataset 'cifar11'; valid: cifar10" in capsys.readouterr().err
    assert main([*base, "--methods", "random", "--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "c")]) == 2
    assert "is not in" in capsys.readouterr().err
    assert main([*base, "--methods", "random", "--out", str(tmp_path / "d")]) == 0
    assert main([*base, "--methods", "random", "--budgets", "6", "--out", str(tmp_path / "d")]) == 2  # another budget
    assert "runs/random/seed_0 ran to budget 5, this compare's largest budget is 6" in capsys.readouterr().err
    assert not any((tmp_path / name).exists() for name in ("a", "b", "c"))


@pytest.mark.parametrize("signame", ["SIGKILL", "SIGTERM"])
def test_pool_workers_exit_when_the_parent_is_killed(signame, tmp_path) -> None:
    import signal
    import subprocess
    import time

    script = ("import time\nfrom crlso.execution.executors import LocalExecutor\n"
              "LocalExecutor(workers=1).map(time.sleep, [3600], progress=False)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "OMP_NUM_THREADS": "1"},
                              stderr=subprocess.DEVNULL)
    try:
        workers: list[int] = []
        deadline = time.monotonic() + 60
        while not workers and time.monotonic() < deadline:
            time.sleep(0.5)
            workers = [p for p in _children(parent.pid) if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert workers, "the pool worker did not start"
        time.sleep(1.0)  # the worker is blocked in its task
        parent.send_signal(getattr(signal, signame))
        parent.wait(timeout=30)  # a parent that hangs on its workers fails here instead of blocking the suite
        deadline = time.monotonic() + 15
        while any(Path(f"/proc/{p}").exists() for p in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(Path(f"/proc/{p}").exists() for p in workers), "a pool worker outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out
