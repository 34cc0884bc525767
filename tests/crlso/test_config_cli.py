"""``--config`` on the crlso commands: a run's written config reproduces it; flags win; bad keys are one line."""

from __future__ import annotations

import json

import pytest

from crlso.cli import main
from crlso.cli.hybrid import config_from_run


def _config(folder) -> dict:
    return json.loads((folder / "config.json").read_text())


def test_search_config_json_round_trip(tmp_path, nb201_cifar10, capsys):
    first = tmp_path / "a"
    assert main(["search", "--method", "rea", "--budget", "6", "--seed", "2", "--option", "sample_size=2",
                 "--out", str(first)]) == 0
    assert main(["search", "--config", str(first / "config.json"), "--out", str(tmp_path / "b")]) == 0
    assert _config(tmp_path / "b") == _config(first)
    queries = lambda f: [json.loads(line)["genotype"] for line in (f / "queries.jsonl").read_text().splitlines()]  # noqa: E731
    assert queries(tmp_path / "b") == queries(first)  # the same run, query for query
    # a flag given on the command line wins over the file
    assert main(["search", "--config", str(first / "config.json"), "--budget", "3", "--out", str(tmp_path / "c")]) == 0
    assert _config(tmp_path / "c")["budget"] == 3 and _config(tmp_path / "c")["options"] == {"sample_size": "2"}
    capsys.readouterr()


def test_search_yaml_config_and_unknown_key(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("method: random\nbudget: 5\nbudegt: 6\n")
    assert main(["search", "--config", str(config), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("crlso search: error: config ") and "unknown key 'budegt'; allowed: " in err
    assert "budget" in err and "\n" not in err
    assert not (tmp_path / "r").exists()


def test_compare_writes_a_config_that_reruns_it(tmp_path, nb201_cifar10, capsys):
    first = tmp_path / "c1"
    assert main(["compare", "--methods", "random,rea", "--seeds", "0-1", "--budgets", "3,5", "--workers", "1",
                 "--option", "rea:sample_size=2", "--out", str(first)]) == 0
    written = _config(first)
    assert written["methods"] == "random,rea" and written["seeds"] == [0, 1] and written["budgets"] == [3, 5]
    assert written["options"]["rea"] == {"sample_size": "2"} and "out" not in written
    assert main(["compare", "--config", str(first / "config.json"), "--out", str(tmp_path / "c2")]) == 0
    assert _config(tmp_path / "c2") == written
    rea = lambda c: _config(c / "runs" / "rea" / "seed_1")  # noqa: E731
    assert rea(tmp_path / "c2") == rea(first)
    capsys.readouterr()


def test_train_config_sections_are_checked(tmp_path, capsys):
    config = tmp_path / "train.yaml"
    config.write_text("model: {latent_dim: 8, widht: 3}\n")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert "config key model: unknown field(s) widht; allowed: " in err and "latent_dim" in err


def test_hybrid_reads_its_search_config_back():
    written = {"method": "hybrid", "space": "nb201", "budget": 20, "seed": 1, "resolved_options": {},
               "options": {"alpha_top": 2, "screen": False, "seed_from": "/runs/sn", "cache_dir": "/c"}}
    flags = config_from_run(written)
    assert flags["supernet"] == "/runs/sn" and flags["alpha_top"] == 2 and flags["screen"] is False
    assert flags["options"] == {"cache_dir": "/c"} and "method" not in flags
    with pytest.raises(ValueError, match="crlso hybrid reruns hybrid runs only"):
        config_from_run({**written, "method": "rea"})
