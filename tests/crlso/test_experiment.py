"""Run folders: the files, resume after an interruption, the CLI commands."""

from __future__ import annotations

import dataclasses
import json

import pytest

from crlso.cli import main
from crlso.experiments.compare import aggregate
from crlso.experiments.run import RunConfig, run_experiment
from crlso.experiments.run_folder import RunLogError, read_queries
from nasspace.oracle import Oracle


def _config(method: str, options: dict, budget: int = 20, seed: int = 3) -> RunConfig:
    return RunConfig(method=method, budget=budget, seed=seed, options=options)


def _steps(folder) -> list[str]:
    return [r["genotype"] for r in read_queries(folder / "queries.jsonl")]


@pytest.mark.parametrize("method", ["rea", "crlso"])
def test_run_folder_files(method, tmp_path, nb201_cifar10, tiny_crlso_options) -> None:
    options = tiny_crlso_options if method == "crlso" else {}
    summary = run_experiment(_config(method, options), tmp_path / "run", progress=False)
    lines = (tmp_path / "run" / "queries.jsonl").read_text().splitlines()
    assert len(lines) == 20
    records = [json.loads(line) for line in lines]
    assert [r["step"] for r in records] == list(range(1, 21))
    for r in records:  # anyone can re-score a run from the log
        assert nb201_cifar10.query(r["genotype"], "valid_acc") == pytest.approx(r["value"])
    assert json.loads((tmp_path / "run" / "config.json").read_text())["method"] == method
    assert summary["n_queries"] == 20 and len(summary["best_so_far"]) == 20
    assert summary["best"]["test_acc"] == pytest.approx(nb201_cifar10.query(summary["best"]["genotype"], "test_acc"))


@pytest.mark.parametrize("method", ["rea", "crlso"])
def test_resume_after_interruption_gives_the_same_queries(method, tmp_path, monkeypatch, nb201_cifar10, tiny_crlso_options) -> None:
    options = tiny_crlso_options if method == "crlso" else {}
    config = _config(method, options)
    run_experiment(config, tmp_path / "whole", progress=False)
    expected = _steps(tmp_path / "whole")

    original = Oracle.query
    calls = {"n": 0}

    def dying_query(self, genotype):
        if not self.is_known(genotype):
            calls["n"] += 1
            if calls["n"] > 13:
                raise KeyboardInterrupt  # the process is killed after 13 queries
        return original(self, genotype)

    monkeypatch.setattr(Oracle, "query", dying_query)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config, tmp_path / "killed", progress=False)
    monkeypatch.setattr(Oracle, "query", original)
    assert len(_steps(tmp_path / "killed")) == 13
    assert not (tmp_path / "killed" / "summary.json").exists()
    with open(tmp_path / "killed" / "queries.jsonl", "a") as log:
        log.write('{"step": 14, "genot')  # a line torn by the kill
    summary = run_experiment(config, tmp_path / "killed", progress=False)
    assert _steps(tmp_path / "killed") == expected
    # the same bytes, provenance included; for crlso this spans joint refits of its latent space (at 8, 12 and 18 labels)
    assert (tmp_path / "killed" / "queries.jsonl").read_bytes() == (tmp_path / "whole" / "queries.jsonl").read_bytes()
    assert summary["resumed_from_step"] == 13


def test_other_config_in_folder_is_refused(tmp_path, nb201_cifar10) -> None:
    run_experiment(_config("random", {}, budget=5), tmp_path / "run", progress=False)
    with pytest.raises(FileExistsError):
        run_experiment(_config("random", {}, budget=6), tmp_path / "run", progress=False)


def test_aggregate_censors_missing_optimum() -> None:
    runs = [{"method": "m", "seed": s, "best_so_far": [90.0, 91.0], "queries_to_optimum": q} for s, q in enumerate([1, None, None])]
    row = aggregate(runs, [1, 2])["m"]
    assert row["median_queries_to_optimum"] is None and row["found_optimum"] == {"1": 1, "2": 1}
    assert row["at_budget"]["2"]["mean"] == pytest.approx(91.0)


def test_cli_search_and_compare(tmp_path, capsys, nb201_cifar10) -> None:
    assert main(["search", "--method", "random", "--budget", "5", "--seed", "1", "--out", str(tmp_path / "s")]) == 0
    assert "results:" in capsys.readouterr().out
    assert main(["search", "--method", "nope", "--budget", "5", "--out", str(tmp_path / "x")]) == 2
    code = main(["compare", "--methods", "random,rea", "--seeds", "2", "--budgets", "5,10", "--workers", "1",
                 "--out", str(tmp_path / "c")])
    assert code == 0
    out = capsys.readouterr().out
    assert "results:" in out and "| random |" in out
    for name in ("table.md", "compare.json", "best_so_far.png"):
        assert (tmp_path / "c" / name).exists()


def test_nested_config_options_take_json_objects() -> None:
    from crlso.search import searcher_config

    config = searcher_config("crlso", {"model": '{"latent_dim": 8}', "pretrain": {"epochs": 2}})
    assert config.model.latent_dim == 8 and config.model.gnn_hidden == searcher_config("crlso").model.gnn_hidden
    assert config.pretrain.epochs == 2
    with pytest.raises(ValueError, match="unknown field.*latent in option model; valid: .*latent_dim"):
        searcher_config("crlso", {"model": '{"latent": 8}'})
    with pytest.raises(ValueError, match="not a JSON object"):
        searcher_config("crlso", {"model": "latent_dim=8"})


def test_a_run_folder_from_before_a_new_option_still_matches() -> None:
    from crlso.experiments.run import _same_run

    old = {"method": "crlso", "options": {}, "resolved_options": {"n_init": 10, "model": {"latent_dim": 16}}}
    new = {"method": "crlso", "options": {}, "resolved_options": {"n_init": 10, "model": {"latent_dim": 16, "readout": "sum"}}}
    assert _same_run(old, new)
    assert not _same_run(new, old)  # the folder knows an option this code lacks
    assert not _same_run(old, {**new, "resolved_options": {"n_init": 12, "model": {"latent_dim": 16}}})
    assert not _same_run(old, {**new, "options": {"n_init": 10}})


# -- issue 16: nothing lost, nothing silently wrong ------------------------------------------------
def _killed_run(tmp_path, n: int = 13, budget: int = 20):
    """A random-search folder holding the first ``n`` queries of a ``budget`` run (and no summary)."""
    config = _config("random", {}, budget=budget)
    run_experiment(dataclasses.replace(config, budget=n), tmp_path / "probe", progress=False)
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "queries.jsonl").write_bytes((tmp_path / "probe" / "queries.jsonl").read_bytes())
    return config, folder


@pytest.mark.parametrize("damage", ["blank", "garbage", "not_object", "missing_key"])
def test_a_bad_line_before_the_end_is_an_error_naming_it_and_nothing_is_cut(damage, tmp_path, nb201_cifar10) -> None:
    config, folder = _killed_run(tmp_path)
    log = folder / "queries.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    bad = {"blank": "\n", "garbage": "{oops\n", "not_object": "[1, 2]\n", "missing_key": '{"step": 6}\n'}[damage]
    lines.insert(5, bad)  # line 6 of 14
    before = "".join(lines)
    log.write_text(before)
    with pytest.raises(RunLogError, match=r"queries\.jsonl:6: "):
        run_experiment(config, folder, progress=False)
    assert log.read_text() == before  # not one logged query discarded
    assert main(["search", "--method", "random", "--budget", "20", "--seed", "3", "--out", str(folder)]) == 2


def test_a_bad_last_line_with_its_newline_is_not_torn_and_is_refused(tmp_path, nb201_cifar10) -> None:
    config, folder = _killed_run(tmp_path)
    log = folder / "queries.jsonl"
    log.write_text(log.read_text() + '{"step": 14, "geno\n')
    with pytest.raises(RunLogError, match=r":14: "):
        run_experiment(config, folder, progress=False)


def test_an_edited_logged_value_is_refused_on_resume_with_its_line(tmp_path, nb201_cifar10) -> None:
    config, folder = _killed_run(tmp_path)
    log = folder / "queries.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    records[6]["value"] = 99.9  # would become the run's best
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(RunLogError, match=r"queries\.jsonl:7: logged valid_acc 99\.9 .* differs from the table"):
        run_experiment(config, folder, progress=False)
    assert not (folder / "summary.json").exists()
    records[6]["value"] = nb201_cifar10.query(records[6]["genotype"], "valid_acc")  # the true value resumes
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert run_experiment(config, folder, progress=False)["resumed_from_step"] == 13


def test_a_second_writer_of_a_run_folder_is_refused(tmp_path, nb201_cifar10, capsys) -> None:
    from crlso.experiments.run_folder import RunFolderBusy, lock_run_folder

    folder = tmp_path / "run"
    folder.mkdir()
    with lock_run_folder(folder):  # another `crlso search --out run` is writing
        with pytest.raises(RunFolderBusy, match="in use by another run"):
            run_experiment(_config("random", {}, budget=5), folder, progress=False)
        assert main(["search", "--method", "random", "--budget", "5", "--seed", "3", "--out", str(folder)]) == 2
        assert "in use by another run" in capsys.readouterr().err
    assert not (folder / "queries.jsonl").exists()
    assert run_experiment(_config("random", {}, budget=5), folder, progress=False)["n_queries"] == 5


def test_stale_temporaries_and_corrupt_json_of_a_run_folder(tmp_path, nb201_cifar10) -> None:
    config = _config("random", {}, budget=5)
    folder = tmp_path / "run"
    run_experiment(config, folder, progress=False)
    (folder / ".summary.json.k1ll3d.tmp").write_text('{"half": ')  # left by a kill during the atomic write
    (folder / "summary.json").unlink()
    run_experiment(config, folder, progress=False)
    assert not list(folder.glob(".*.tmp"))
    from crlso.experiments.run_folder import RunFolderError

    for name in ("summary.json", "config.json"):
        (folder / name).write_text("[" * 5000 + "]" * 5000 if name == "config.json" else "{not json")
        with pytest.raises(RunFolderError, match=name.replace(".", r"\.") + " is not valid JSON"):
            run_experiment(config, folder, progress=False)


def test_budget_above_the_cells_is_refused_up_front(tmp_path, nb201_cifar10, capsys) -> None:
    with pytest.raises(ValueError, match=r"budget 16000 exceeds the 15625 distinct cells.*allowed: 1\.\.15625"):
        run_experiment(_config("local", {}, budget=16000), tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "queries.jsonl").exists()


def test_os_errors_are_one_line_naming_the_path(tmp_path, nb201_cifar10, capsys) -> None:
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    for out in (a_file, a_file / "sub"):
        assert main(["search", "--method", "random", "--budget", "5", "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("crlso search: error:") and str(a_file) in err and "\n" not in err
    assert a_file.read_text() == "x"


def test_smaller_items_of_issue_16(tmp_path, nb201_cifar10, capsys, monkeypatch, data_store) -> None:
    """A relative --data-dir is stored resolved; --search-metric test_acc warns; deep JSON is a clean error."""
    monkeypatch.chdir(tmp_path)
    config = RunConfig(method="random", budget=3, data_dir=".")
    assert config.data_dir == str(tmp_path)
    assert RunConfig(method="random", budget=3, data_dir=str(data_store.data_dir)).to_json()["data_dir"] == str(data_store.data_dir.resolve())
    assert main(["search", "--method", "random", "--budget", "3", "--search-metric", "test_acc", "--out", str(tmp_path / "t")]) == 0
    assert "warning: --search-metric test_acc" in capsys.readouterr().err
    deep = '{"latent_dim": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert main(["search", "--method", "crlso", "--budget", "3", "--option", f"model={deep}", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "is not a JSON object" in err and err.count("\n") == 1
