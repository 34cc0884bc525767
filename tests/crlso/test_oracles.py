"""The training oracle: proxy trainings in resumable folders, batches through executors, finalize."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from nasspace import get_space

from crlso.execution.executors import LocalExecutor, RayExecutor
from crlso.experiments.run import RunConfig, run_experiment
from crlso.oracles import TRAIN_METRIC, TrainProxy, evaluation_key, final_preset, proxy_preset, train_cells

# 32 synthetic images, 24 trained on in one batch of 16 (one step), 8 held out.
TINY = dict(data="synthetic", epochs=1, images=32, channels=2, cells=1, batch_size=16)
MEASURED = {"cost", "total_cost", "wall_seconds"}  # seconds differ between runs, never the results


def _tiny(space: str = "nb201", **changes) -> TrainProxy:
    cells = {"cells": 3} if space == "darts" else {}
    return proxy_preset("cpu", space, **{**TINY, **cells, **changes})


def _lines(run: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k not in MEASURED}
            for line in (run / "queries.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("space", ["nb201", "darts"])
def test_training_oracle_gives_a_finite_accuracy_and_never_reads_the_test_split(space, tmp_path, monkeypatch) -> None:
    import darts_backend.runs.train as train

    splits = []
    original = train.load_dataset

    def recording(source, split="train", **kwargs):
        splits.append(split)
        return original(source, split, **kwargs)

    monkeypatch.setattr(train, "load_dataset", recording)
    genotype = get_space(space).sample(0) if space == "nb201" else get_space("darts").sample(0)
    [evaluation] = train_cells([genotype], _tiny(space), tmp_path)
    assert splits == ["train"]  # the held-out share is carved from the train images; the test split is never loaded
    assert math.isfinite(evaluation.value) and 0.0 <= evaluation.value <= 100.0
    assert evaluation.cost > 0 and evaluation.params > 0 and evaluation.flops > 0 and evaluation.test_acc_percent is None
    folder = tmp_path / evaluation_key(genotype)
    assert json.loads((folder / "evaluation.json").read_text())["value"] == evaluation.value
    assert [json.loads(x)["epoch"] for x in (folder / "train" / "metrics.jsonl").read_text().splitlines()] == [1]


def test_a_proxy_is_validated_and_a_folder_keeps_its_budget(tmp_path) -> None:
    with pytest.raises(ValueError, match="valid_fraction > 0"):
        TrainProxy(valid_fraction=0.0)
    with pytest.raises(ValueError, match="epochs=0 is out of range"):
        proxy_preset("cpu", "nb201", epochs=0)
    with pytest.raises(ValueError, match="valid: cpu, paper"):
        proxy_preset("gpu", "nb201")
    genotype = get_space("nb201").sample(1)
    train_cells([genotype], _tiny(), tmp_path)
    train_cells([genotype], _tiny(threads=2), tmp_path)  # threads change where it runs, not the value: accepted
    with pytest.raises(ValueError, match="epochs differ"):
        train_cells([genotype], _tiny(epochs=2), tmp_path)


def test_a_killed_evaluation_resumes_and_a_finished_one_is_never_run_again(tmp_path, monkeypatch) -> None:
    import darts_backend.runs.train as train

    genotype = get_space("nb201").sample(2)
    proxy = _tiny(epochs=2)
    original = train.save_checkpoint

    def save_then_die(path, state):
        original(path, state)
        raise KeyboardInterrupt("killed after the first epoch's checkpoint")

    monkeypatch.setattr(train, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train_cells([genotype], proxy, tmp_path / "killed")
    folder = tmp_path / "killed" / evaluation_key(genotype)
    assert (folder / "train" / "checkpoint.pt").is_file() and not (folder / "evaluation.json").exists()
    monkeypatch.setattr(train, "save_checkpoint", original)
    [resumed] = train_cells([genotype], proxy, tmp_path / "killed")
    epochs = [json.loads(x)["epoch"] for x in (folder / "train" / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2]  # epoch 1 came from the killed session, only epoch 2 was trained again
    [uninterrupted] = train_cells([genotype], proxy, tmp_path / "whole")
    assert resumed.value == uninterrupted.value

    monkeypatch.setattr(train, "run_train", lambda *a, **k: pytest.fail("a finished evaluation was trained again"))
    assert train_cells([genotype], proxy, tmp_path / "killed") == [resumed]


def _search(out: Path, executor, **changes) -> dict:
    config = RunConfig(method="rea", budget=6, seed=3, batch=3, search_metric=TRAIN_METRIC, oracle=_tiny().to_json(),
                       options={"population_size": 3, "sample_size": 2}, **changes)
    return run_experiment(config, out, progress=False, executor=executor)


@pytest.fixture(scope="module")
def one_worker_run(tmp_path_factory, data_store) -> Path:
    """The reference: one worker, which is what ``--workers 1`` runs (in this process, one evaluation at a time)."""
    out = tmp_path_factory.mktemp("one") / "run"
    _search(out, None)
    return out


def test_a_batch_on_two_local_workers_gives_the_same_run_folder_as_one(one_worker_run, tmp_path) -> None:
    summary = _search(tmp_path / "run", LocalExecutor(workers=2))
    assert _lines(tmp_path / "run") == _lines(one_worker_run)  # same cells, values, sources, sizes, in the same order
    assert len(_lines(one_worker_run)) == 6
    one = json.loads((one_worker_run / "summary.json").read_text())
    assert summary["best"] == one["best"] and summary["best_so_far"] == one["best_so_far"]
    assert (summary["executor"], one["executor"]) == ({"name": "local", "workers": 2}, {"name": "in-process", "workers": 1})
    assert all(line["wall_seconds"] > 0 for line in map(json.loads, (tmp_path / "run" / "queries.jsonl").read_text().splitlines()))
    assert sorted(p.name for p in (tmp_path / "run" / "evaluations").iterdir()) == \
        sorted(p.name for p in (one_worker_run / "evaluations").iterdir())


@pytest.mark.slow
def test_ray_on_a_local_two_cpu_instance_gives_the_local_results(one_worker_run, tmp_path) -> None:
    ray = pytest.importorskip("ray", reason="pip install 'crlso[ray]'")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    _search(tmp_path / "run", RayExecutor(workers=2))
    assert _lines(tmp_path / "run") == _lines(one_worker_run)
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["executor"]["name"] == "ray"


def test_a_killed_search_resumes_without_training_a_logged_cell_again(one_worker_run, tmp_path, monkeypatch) -> None:
    import shutil

    import crlso.oracles.training as oracles

    run = tmp_path / "run"
    shutil.copytree(one_worker_run, run)
    lines = (run / "queries.jsonl").read_text().splitlines(keepends=True)
    (run / "queries.jsonl").write_text("".join(lines[:4]))  # killed after 4 queries ...
    (run / "summary.json").unlink()
    for line in lines[4:]:  # ... while the last two trained
        shutil.rmtree(run / json.loads(line)["evaluation"])
    trained = []
    original = oracles._evaluate
    monkeypatch.setattr(oracles, "_evaluate", lambda task: trained.append(task.folder) or original(task))
    _search(run, None)
    assert len(trained) == 2  # only the two lost evaluations ran again
    assert _lines(run) == _lines(one_worker_run)


def test_a_seconds_budget_ends_the_search_after_the_query_that_spent_it(tmp_path, data_store) -> None:
    summary = _search(tmp_path / "run", None, budget_seconds=1e-6)
    assert summary["n_queries"] == 1 and "cost budget" in summary["ended_early"]


def test_ask_batch_fills_a_batch_from_a_one_at_a_time_searcher() -> None:
    from crlso.search import create_searcher

    searcher = create_searcher("rea", get_space("nb201"), seed=0, options={"population_size": 2, "sample_size": 2})
    batch = searcher.ask_batch(5)
    assert len({str(g) for g in batch}) == 5 and searcher.seen == set()  # pending cells are lent, then returned
    again = create_searcher("rea", get_space("nb201"), seed=0, options={"population_size": 2, "sample_size": 2})
    assert [str(g) for g in again.ask_batch(5)] == [str(g) for g in batch]  # seeded: the same batch


def test_finalize_trains_the_best_cells_and_writes_its_json(one_worker_run, tmp_path) -> None:
    import shutil

    from crlso.experiments.finalize import run_finalize

    run = tmp_path / "run"
    shutil.copytree(one_worker_run, run)
    budget = final_preset("cpu", "nb201", **{**TINY, "epochs": 2})
    result = run_finalize(run, budget, top=2, progress=False)
    saved = json.loads((run / "finalize.json").read_text())
    assert saved == json.loads(json.dumps(result))
    values = sorted((json.loads(x)["value"] for x in (run / "queries.jsonl").read_text().splitlines()), reverse=True)
    assert [c["search_value"] for c in saved["cells"]] == values[:2] and [c["rank"] for c in saved["cells"]] == [1, 2]
    for cell in saved["cells"]:
        assert 0.0 <= cell["test_acc"] <= 100.0 and cell["params"] > 0 and cell["flops"] > 0
        assert (run / cell["folder"] / "evaluation.json").is_file()
    assert not list(run.glob("*.tmp"))

    from crlso.report import ReportOptions, build_report

    page = build_report(run, options=ReportOptions(latent=False)).read_text()
    assert "Final evaluation" in page and saved["cells"][0]["genotype"] in page


def test_training_flags_are_checked_before_any_work(tmp_path, capsys) -> None:
    from crlso.cli import main

    base = ["search", "--method", "random", "--budget", "3", "--out", str(tmp_path / "r")]
    for extra, message in ((["--proxy-epochs", "2"], "are for --oracle train"),
                           (["--oracle", "train"], "needs --proxy-data"),
                           (["--oracle", "train", "--proxy-data", "synthetic", "--proxy-epochs", "0"], "allowed:"),
                           (["--space", "darts"], "has no table")):
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (extra, err)
    assert not (tmp_path / "r").exists()


def test_darts_genotypes_train_with_the_cells_the_proxy_asks_for(tmp_path) -> None:
    genotype = get_space("darts").sample(3)
    [evaluation] = train_cells([genotype], _tiny("darts", cells=3), tmp_path)
    config = json.loads((tmp_path / evaluation_key(genotype) / "train" / "config.json").read_text())
    assert config["cells"] == 3 and config["space"] == "darts" and evaluation.value >= 0.0


def test_oracle_bench_refuses_more_cells_than_nb201_holds(tmp_path: Path, capsys) -> None:
    """Issue 33's probe: ``--cells 15626`` ended in a traceback (SearchExhausted) after the setup."""
    from crlso.cli import main

    out = tmp_path / "ob"
    assert main(["oracle-bench", "--cells", "15626", "--proxy-data", "synthetic", "--out", str(out)]) == 2
    assert "more distinct cells than NB201 holds (15625)" in capsys.readouterr().err and not out.exists()
