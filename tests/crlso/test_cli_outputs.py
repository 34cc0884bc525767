"""CLI output that says what it means: closed pipes, grammar, one-seed tables, the optimum note, help texts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crlso.cli import build_parser
from crlso.cli.search import optimum_note
from crlso.experiments.compare import format_paired, format_table

REPO = Path(__file__).resolve().parents[2]


def test_data_info_into_a_closed_pipe_ends_quietly():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from crlso.cli import main; sys.exit(main())",
                             "data", "info"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader goes away before the first line, as `| head -0` does
    err = proc.stderr.read().decode()
    assert proc.wait() == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_data_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["data", "--help"])
    assert "{fetch,info,bench}" in capsys.readouterr().out


def test_optimum_note_never_says_none():
    assert optimum_note({"queries_to_optimum": 37, "n_queries": 100}) == "optimum queried at step 37"
    assert optimum_note({"queries_to_optimum": None, "n_queries": 100}) == "optimum not queried in 100 queries"


def test_one_seed_tables_say_n_1_not_plus_minus():
    one = {"m": {"seeds": 1, "at_budget": {"5": {"mean": 93.2, "ci95": float("nan")}}, "median_queries_to_optimum": None,
                 "mean_wall_seconds": 1.0}}
    table = format_table(one, [5])
    assert "93.20 (n=1)" in table and "± nan" not in table and "± 0.00" not in table
    two = {"m": {**one["m"], "seeds": 2, "at_budget": {"5": {"mean": 93.2, "ci95": 0.5}}}}
    assert "93.20 ± 0.50" in format_table(two, [5])
    paired = [{"a": "x", "b": "y", "seeds": 1, "at_budget": {"5": {"mean": 0.25, "ci95": float("nan")}}}]
    assert "+0.250 (n=1)" in format_paired(paired, [5])


def test_rank_table_with_one_seed_says_n_1():
    from crlso.ranking.benchmark import format_rank_table

    stats = {"tau": (0.5, 0.0), "rho": (0.6, 0.0), "p_at_k": (0.1, 0.0)}
    result = {"runs": [{"n": 10, "seed": 0}], "summary": {10: {"latent": stats, "random_forest": stats}}}
    table = format_rank_table(result)
    assert "0.500 (n=1)" in table and "±" not in table


def test_dataset_help_names_the_splits(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["search", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "cifar10-valid" in text and "valid_acc: the valid split" in text and "test_acc: the test split" in text


def test_lookup_loads_no_torch_networkx_or_tqdm(nb201_cifar10):
    """`crlso lookup` of one cell: what made it take seconds (torch, networkx, tqdm at import) stays out."""
    cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    code = ("import io, json, sys, contextlib; from crlso.cli import main; out = io.StringIO()\n"
            f"with contextlib.redirect_stdout(out): code = main(['lookup', {cell!r}])\n"
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'networkx', 'tqdm', 'scipy'})\n"
            "print(json.dumps([code, heavy, json.loads(out.getvalue())['test_acc']]))")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    code, heavy, test_acc = __import__("json").loads(result.stdout.strip().splitlines()[-1])
    assert code == 0 and heavy == [] and 94.0 < test_acc < 94.5
