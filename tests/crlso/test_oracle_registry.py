"""Oracles by name: the registry, typed specs, and a user's oracle and searcher added without editing crlso."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import crlso
from crlso.cli import main
from crlso.errors import ConfigError
from crlso.experiments.run import RunConfig, run_experiment
from crlso.oracles.registry import OracleContext, list_oracles, parse_oracle, pick_oracle, unregister_oracle
from crlso.search.base import Searcher, sample_unseen
from crlso.search.registry import unregister_searcher


def _ops_score(genotype) -> float:
    """Counts 3x3 convolutions: a made-up objective the table never gives."""
    return float(str(genotype).count("nor_conv_3x3"))


@pytest.fixture
def user_plugins():
    crlso.register_function_oracle("conv-count", _ops_score)

    @crlso.register_searcher("first-unseen")
    class FirstUnseen(Searcher):
        """Proposes seeded random unseen cells, one at a time."""

        def ask(self, n):
            return [sample_unseen(self.space, self.rng, self.seen)]

    yield
    unregister_oracle("conv-count")
    unregister_searcher("first-unseen")


def test_the_built_in_oracles_are_registered_by_name() -> None:
    assert {"table", "train", "supernet"} <= set(list_oracles())
    with pytest.raises(ConfigError, match="unknown oracle 'nope'; valid: .*supernet, table, train"):
        parse_oracle({"name": "nope"})
    with pytest.raises(ConfigError, match="oracle 'table' takes no settings; got images"):
        RunConfig(oracle={"name": "table", "images": 3})
    with pytest.raises(ConfigError, match="unknown supernet-oracle setting"):
        parse_oracle({"name": "supernet", "path": "x", "epochs": 2})
    with pytest.raises(ConfigError, match="set up for nb201 cells, the search is in darts"):
        RunConfig(space="darts", oracle={"name": "train", "space": "nb201", "data": "synthetic"})


def test_the_hybrid_checks_the_options_it_shares_with_crlso() -> None:
    from crlso.search.base import searcher_config

    for method in ("crlso", "hybrid"):
        with pytest.raises(ConfigError, match="unknown rank_by 'bogus'"):
            searcher_config(method, {"rank_by": "bogus"})


def test_the_table_oracle_comes_from_an_entry_and_a_context(tmp_path) -> None:
    context = OracleContext(space="nb201", dataset="cifar10", budget=5, metric="valid_acc", out=tmp_path)
    picked = pick_oracle({"name": "table"}, context)
    assert picked.table is picked.checked_table and len(picked.table) == 15625 and picked.prefetch is None
    with pytest.raises(ConfigError, match="budget 20000 exceeds the 15625 distinct cells"):
        pick_oracle({"name": "table"}, OracleContext(space="nb201", dataset="cifar10", budget=20000, metric="valid_acc",
                                                     out=tmp_path))


def test_a_user_function_oracle_and_searcher_run_through_crlso_register(user_plugins, tmp_path) -> None:
    config = RunConfig(method="first-unseen", budget=6, seed=4, search_metric="conv_count", oracle={"name": "conv-count"})
    summary = run_experiment(config, tmp_path / "run", progress=False)
    lines = [json.loads(x) for x in (tmp_path / "run" / "queries.jsonl").read_text().splitlines()]
    assert [line["value"] for line in lines] == [_ops_score(line["genotype"]) for line in lines]
    assert summary["n_queries"] == 6 and summary["search_metric"] == "conv_count"
    assert summary["best"]["conv_count"] == max(line["value"] for line in lines)
    assert "test_acc" in summary["best"]  # the nb201 table still reports the found cell
    # the same folder resumes (the config names the oracle by its entry)
    assert run_experiment(config, tmp_path / "run", progress=False)["best"] == summary["best"]


def test_the_cli_takes_a_registered_oracle_by_name(user_plugins, tmp_path, capsys) -> None:
    out = tmp_path / "cli"
    assert main(["search", "--method", "first-unseen", "--oracle", "conv-count", "--budget", "4", "--seed", "1",
                 "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["oracle"] == {"name": "conv-count"} and config["search_metric"] == "conv-count"
    assert main(["search", "--config", str(out / "config.json"), "--out", str(tmp_path / "again")]) == 0  # reruns it
    again = json.loads((tmp_path / "again" / "config.json").read_text())
    assert again["oracle"] == {"name": "conv-count"} and "batch" not in again
    capsys.readouterr()
    assert main(["search", "--method", "rea", "--oracle", "missing", "--budget", "4", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown oracle 'missing'" in err and "conv-count" in err
    assert not (tmp_path / "x").exists()
    assert main(["methods"]) == 0
    listed = capsys.readouterr().out
    assert "conv-count" in listed and "Counts 3x3 convolutions" in listed and "first-unseen" in listed


def test_the_readme_extension_example_runs(tmp_path) -> None:
    import ast
    import subprocess
    import sys

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text[text.index("## Extending crlso"):]
    code = section[section.index("```python\n") + len("```python\n"):section.index("```\n", section.index("```python"))]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    best = ast.literal_eval(result.stdout.strip().splitlines()[-1])  # the printed summary["best"] dict
    assert best["convs"] == 3.0 and "test_acc" in best  # the searcher reached a cell of three 3x3 convolutions


PLUGIN = '''
import crlso
from crlso.search.base import Searcher, sample_unseen


@crlso.register_searcher("plugin-random")
class PluginRandom(Searcher):
    """Seeded random unseen cells (a user's searcher)."""

    def ask(self, n):
        return [sample_unseen(self.space, self.rng, self.seen)]


def skips(genotype) -> float:
    """Counts skip connections (a user's oracle)."""
    return float(str(genotype).count("skip_connect"))


crlso.register_function_oracle("skips", skips)
crlso.register_function_oracle("skips", skips)  # a second import of the module registers the same function: no error
'''


def test_a_comparison_runs_a_users_plugins_in_its_worker_processes(tmp_path, monkeypatch) -> None:
    import importlib
    import sys

    from crlso.experiments.compare import run_comparison
    from crlso.execution.executors import LocalExecutor

    (tmp_path / "my_plugins.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("my_plugins")
    try:
        base = RunConfig(search_metric="skips", oracle={"name": "skips"})
        result = run_comparison(methods=["plugin-random", "rea"], seeds=[0, 1], budgets=[5], out_dir=tmp_path / "cmp",
                                base=base, executor=LocalExecutor(workers=1), progress=False)
        assert result["methods"] == ["plugin-random", "rea"]
        assert (tmp_path / "cmp" / "runs" / "plugin-random" / "seed_1" / "summary.json").exists()
        with pytest.raises(ConfigError, match="an oracle named 'skips' is already registered"):  # a different function under a taken name
            crlso.register_function_oracle("skips", lambda genotype: 0.0)
        crlso.register_function_oracle("here", lambda genotype: 1.0)  # a lambda of this test module: importable
        main_fn = lambda genotype: 1.0  # noqa: E731
        main_fn.__module__ = "__main__"
        crlso.register_function_oracle("in-main", main_fn)
        with pytest.raises(ConfigError, match="oracle 'in-main' is registered in __main__"):
            run_comparison(methods=["rea"], seeds=[0], budgets=[5], out_dir=tmp_path / "main", progress=False,
                           base=RunConfig(search_metric="x", oracle={"name": "in-main"}))
        assert not (tmp_path / "main").exists()
    finally:
        for name in ("skips", "here", "in-main"):
            unregister_oracle(name)
        unregister_searcher("plugin-random")
        sys.modules.pop("my_plugins", None)
