"""The evaluator bench: known rank correlations on stub evaluators, NaN handling, cells, the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from darts_backend.cli import main
from darts_backend.runs import evaluator_bench as eb
from nasspace import get_space


def test_known_tau_and_spearman() -> None:
    # one discordant pair of six: tau = (5 - 1) / 6; d = (0, 1, 1, 0): rho = 1 - 6 * 2 / (4 * 15)
    r = eb.rank_correlations([1.0, 2.0, 3.0, 4.0], [10.0, 30.0, 20.0, 40.0])
    assert r["kendall_tau"] == pytest.approx(2 / 3) and r["spearman"] == pytest.approx(0.8) and r["n"] == 4
    r = eb.rank_correlations([1.0, float("nan"), 3.0, 2.0, 5.0], [1.0, 2.0, 3.0, 4.0, float("nan")])
    assert r["n"] == 3 and r["kendall_tau"] == pytest.approx(1 / 3)  # (1,1) (3,3) (2,4): 2 concordant, 1 discordant
    assert math.isnan(eb.rank_correlations([1.0, float("nan")], [1.0, 2.0])["kendall_tau"])
    with pytest.raises(ValueError, match="differ in length"):
        eb.rank_correlations([1.0], [1.0, 2.0])


def test_bench_puts_stub_evaluators_side_by_side() -> None:
    cells = eb.sample_cells(12, seed=3)
    truth = [float(i) for i in range(12)]
    rank = {str(g): i for i, g in enumerate(cells)}
    swap_first_two = [1.0, 0.0] + [float(i) for i in range(2, 12)]  # one discordant pair of 66
    scorers = {
        "perfect": lambda cs: [rank[str(g)] * 2.0 + 1 for g in cs],
        "reversed": lambda cs: [-float(rank[str(g)]) for g in cs],
        "one swap": lambda cs: [swap_first_two[rank[str(g)]] for g in cs],
    }
    results = eb.bench_evaluators(cells, truth, scorers)
    assert list(results) == ["perfect", "reversed", "one swap"]
    assert results["perfect"]["kendall_tau"] == pytest.approx(1.0) and results["reversed"]["spearman"] == pytest.approx(-1.0)
    assert results["one swap"]["kendall_tau"] == pytest.approx(64 / 66)
    assert results["perfect"]["scores"][:2] == [1.0, 3.0] and results["perfect"]["cpu_seconds_per_cell"] >= 0
    assert "| one swap | 0.970 |" in eb.format_table(results)
    with pytest.raises(ValueError, match="returned 1 scores for 12 cells"):
        eb.bench_evaluators(cells, truth, {"short": lambda cs: [0.0]})


def test_cells_are_distinct_and_seeded_and_specs_are_checked() -> None:
    cells = eb.sample_cells(50, seed=1)
    assert len({str(g) for g in cells}) == 50 and [str(g) for g in cells] == [str(g) for g in eb.sample_cells(50, seed=1)]
    assert [str(g) for g in cells] != [str(g) for g in eb.sample_cells(50, seed=2)]
    assert eb.parse_evaluator("single-path:/runs/a:b") == eb.EvaluatorSpec("single-path", "/runs/a:b")
    for bad in ("mixture", "oracle:x", "zc:"):
        with pytest.raises(ValueError, match="KIND:TARGET"):
            eb.parse_evaluator(bad)
    with pytest.raises(ValueError, match="synflow"):  # an unknown proxy lists the known ones
        eb.parse_evaluator("zc:accuracy")
    assert eb.parse_evaluator("zc:synflow+params") == eb.EvaluatorSpec("zc", "synflow+params")
    with pytest.raises(ValueError, match="synflow"):
        eb.parse_evaluator("zc:synflow+accuracy")
    with pytest.raises(ValueError, match="twice"):
        eb.parse_evaluator("zc:params+params")
    with pytest.raises(ValueError, match="at least 2 cells"):
        eb.sample_cells(1, seed=0)


def test_rank_average_by_hand() -> None:
    # [3, 1, 2]: ranks 3, 1, 2 of m = 3 -> 1/3, -1/3, 0; [10, NaN, 30]: ranks 1, -, 2 of m = 2 -> -1/4, 0 (NaN), 1/4
    avg = eb.rank_average([[3.0, 1.0, 2.0], [10.0, float("nan"), 30.0]])
    assert avg == pytest.approx([1 / 24, -1 / 6, 1 / 8])
    assert eb.rank_average([[5.0, 5.0, 1.0]]) == pytest.approx([1 / 6, 1 / 6, -1 / 3])  # ties share the mid-rank
    # the order of a single list is kept
    assert np.argsort(eb.rank_average([[0.3, 0.1, 0.9, 0.5]])).tolist() == [1, 0, 3, 2]


def test_cli_scores_correlates_and_writes(tmp_path, monkeypatch, capsys) -> None:
    import nasspace.benchmarks.nb201 as nb201

    space = get_space("nb201")
    cells = list(space.enumerate())
    convs = np.array([sum(op.startswith("nor_conv") for op in g.ops) for g in cells], dtype=float)
    table = nb201.NB201Table.from_arrays("cifar10", [str(g) for g in cells], {"valid_acc": convs})
    monkeypatch.setattr(nb201, "NB201Table", lambda dataset: table)
    out = tmp_path / "bench.json"
    args = ["evaluator-bench", "--evaluator", "zc:params", "--cells", "30", "--seed", "4", "--out", str(out),
            "--cache-dir", str(tmp_path / "cache"), "--zc-data", "synthetic", "--threads", "1"]
    assert main(args) == 0
    result = json.loads(out.read_text())
    rows = result["cells"]
    assert len(rows) == 30 and [r["genotype"] for r in rows] == [str(g) for g in eb.sample_cells(30, seed=4)]
    expected = eb.rank_correlations([r["zc:params"] for r in rows], [r["valid_acc"] for r in rows])
    summary = result["summary"]["zc:params"]
    assert summary["kendall_tau"] == pytest.approx(expected["kendall_tau"]) and summary["kendall_tau"] > 0.5
    assert "zc:params" in capsys.readouterr().out
    assert main(args[:2] + ["zc:params"] + args[1:]) == 2  # listed twice
    both = tmp_path / "both.json"  # the rank-average of params and flops, beside each of them
    assert main(["evaluator-bench", "--evaluator", "zc:params", "--evaluator", "zc:flops", "--evaluator", "zc:params+flops",
                 "--cells", "30", "--seed", "4", "--out", str(both)] + args[9:]) == 0
    rows = json.loads(both.read_text())["cells"]
    assert [r["zc:params+flops"] for r in rows] == pytest.approx(
        eb.rank_average([[r["zc:params"] for r in rows], [r["zc:flops"] for r in rows]]))
