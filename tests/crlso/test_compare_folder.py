"""A compare folder keeps its results: every finished run in it is aggregated, what is not is named,
and a budget change is one clear error."""

from __future__ import annotations

import json

import pytest

from crlso.cli import main
from crlso.execution.executors import Executor
from crlso.experiments.compare import run_comparison


class SerialExecutor(Executor):
    """Runs tasks one after another in this process (a test fake: no process start-up)."""

    name = "serial"

    def map(self, fn, items, *, desc="tasks", progress=True):
        return [fn(item) for item in items]


def _compare(out, methods, budgets=(5, 10), seeds=(0, 1)):
    return run_comparison(methods=list(methods), seeds=list(seeds), budgets=list(budgets), out_dir=out,
                          executor=SerialExecutor(), progress=False)


def _table_rows(out) -> dict[str, str]:
    return {line.split("|")[1].strip(): line for line in (out / "table.md").read_text().splitlines()
            if line.startswith("| ") and not line.startswith("| method")}


def test_a_narrower_rerun_keeps_every_run_of_the_folder(tmp_path, nb201_cifar10) -> None:
    out = tmp_path / "cmp"
    first = _compare(out, ["random", "rea"])
    second = _compare(out, ["rea"])  # fewer methods: the random runs stay in the table
    assert second["methods"] == ["rea", "random"] and second["this_invocation"]["methods"] == ["rea"]
    assert second["results"] == first["results"] and second["left_out"] == []
    assert set(_table_rows(out)) == {"random", "rea"}
    saved = json.loads((out / "compare.json").read_text())
    assert set(saved["results"]) == {"random", "rea"} and saved["results"]["random"]["seeds"] == 2
    # the runs found in the folder are paired with this call's first method, so paired.md matches the table
    assert [(row["a"], row["b"]) for row in saved["paired_differences"]] == [("rea", "random")]
    assert "| rea - random | 2 |" in (out / "paired.md").read_text()
    _compare(tmp_path / "alone", ["rea"])
    assert not (tmp_path / "alone" / "paired.md").exists()


def test_runs_that_cannot_be_aggregated_are_named(tmp_path, nb201_cifar10) -> None:
    out = tmp_path / "cmp"
    _compare(out, ["random", "rea"], budgets=(5,))
    (out / "runs" / "rea" / "seed_1" / "summary.json").unlink()  # a killed run
    result = _compare(out, ["random"], budgets=(5,))
    assert result["results"]["rea"]["seeds"] == 1
    assert result["left_out"] == ["runs/rea/seed_1 (unfinished: no summary.json)"]
    assert "Left out of this table: runs/rea/seed_1 (unfinished" in (out / "table.md").read_text()
    # a run to fewer queries than this compare's horizon is not averaged with longer ones
    _compare(tmp_path / "short", ["rea"], budgets=(3,), seeds=(0,))
    (out / "runs" / "rea3").mkdir()
    (tmp_path / "short" / "runs" / "rea" / "seed_0").rename(out / "runs" / "rea3" / "seed_0")
    result = _compare(out, ["random"], budgets=(5,))
    assert "rea3" not in result["results"]
    assert "runs/rea3/seed_0 (ran to 3 queries, fewer than 5)" in result["left_out"]


def test_table_says_what_plus_minus_is(tmp_path, nb201_cifar10) -> None:
    out = tmp_path / "cmp"
    _compare(out, ["random"], budgets=(5,))
    assert "± is the half-width of the 95% Student-t interval of the mean over seeds" in (out / "table.md").read_text()


def test_raising_the_budget_of_a_finished_compare_is_one_line(tmp_path, capsys, nb201_cifar10) -> None:
    out = tmp_path / "cmp"
    _compare(out, ["random", "rea"], budgets=(5,), seeds=(0,))
    with pytest.raises(FileExistsError, match=r"runs/random/seed_0 ran to budget 5, this compare's largest budget is 8"):
        _compare(out, ["random"], budgets=(5, 8), seeds=(0,))
    code = main(["compare", "--methods", "random", "--seeds", "1", "--budgets", "5,8", "--workers", "1", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "pass --budgets ending at 5" in err[0]
    # other config changes keep the general message
    with pytest.raises(FileExistsError, match="holds a run with another config"):
        run_comparison(methods=["rea"], seeds=[0], budgets=[5], out_dir=out, executor=SerialExecutor(), progress=False,
                       options={"rea": {"population_size": 7}})
