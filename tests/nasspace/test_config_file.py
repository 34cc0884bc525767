"""``--config FILE``: file values overlay the defaults, flags given on the command line overlay the file."""

from __future__ import annotations

import argparse
import json

import pytest

from nasspace.config_file import (ConfigFileError, add_config_flag, apply_config_to_command, namespace_config,
                                  read_config_file)


def _comma_ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(","))


def _parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="tool")
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--method", required=True, choices=["random", "rea"])
    run.add_argument("--budget", type=int, default=100)
    run.add_argument("--budgets", type=_comma_ints, default=(50,))
    run.add_argument("--search-metric", default=None)
    run.add_argument("--lr", type=float, default=0.1)
    run.add_argument("--screen", action="store_true")
    run.add_argument("--option", action="append", default=[])
    run.add_argument("--out", required=True)
    add_config_flag(run, ignored=("resolved_options",))
    run.set_defaults(options=None)
    sub.add_parser("other")  # takes no --config
    return top


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = _parser()
    apply_config_to_command(parser, argv)
    return parser.parse_args(argv)


def test_file_overlays_defaults_and_flags_overlay_the_file(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("method: rea\nbudget: 7\nsearch-metric: valid_acc_12ep\nbudgets: [10, 20]\nlr: 1e-3\n"
                      "screen: true\noption: [a=1]\noptions: {population_size: 5}\nresolved_options: {x: 1}\n")
    args = _parse(["run", "--config", str(config), "--out", "o", "--budget", "9", "--option", "a=2"])
    assert args.method == "rea"            # from the file (a required flag the file gives)
    assert args.budget == 9                # the flag wins over the file's 7
    assert args.search_metric == "valid_acc_12ep" and args.budgets == (10, 20) and args.lr == pytest.approx(1e-3)
    assert args.screen is True
    assert args.option == ["a=1", "a=2"]   # the flag's item comes last, so it wins where items are read in order
    assert args.options == {"population_size": 5}
    plain = _parse(["run", "--method", "random", "--out", "o"])
    assert (plain.budget, plain.budgets, plain.options) == (100, (50,), None)  # defaults without a file


def test_json_file_and_equals_form(tmp_path):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"method": "random", "budget": 3}))
    assert _parse(["run", f"--config={config}", "--out", "o"]).budget == 3


@pytest.mark.parametrize("text, match", [
    ("method: rea\nbudgte: 5\n", r"unknown key 'budgte'; allowed: budget, budgets, lr, method, option, options, out, "
                                  r"screen, search_metric$"),
    ("method: rea\nbudget: 5.5\n", r"budget \(--budget\) takes an integer, got 5.5"),
    ("method: nope\n", r"method \(--method\) = 'nope' is not one of random, rea"),
    ("method: rea\nscreen: 1\n", r"screen \(--screen\) takes true or false"),
    ("- a\n- b\n", r"expected a mapping of option names to values, got a list"),
    ("method: [rea\n", r"not valid YAML"),
])
def test_bad_files_are_one_typed_line(tmp_path, text, match):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    with pytest.raises(ConfigFileError, match=match) as info:
        _parse(["run", "--config", str(config), "--out", "o"])
    assert "\n" not in str(info.value) and isinstance(info.value, ValueError)


def test_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(ConfigFileError, match=r"missing\.yaml: cannot read it"):
        _parse(["run", "--config", str(tmp_path / "missing.yaml"), "--out", "o"])


def test_required_flag_still_required_without_it_in_the_file(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("budget: 4\n")
    with pytest.raises(SystemExit):
        _parse(["run", "--config", str(config), "--out", "o"])
    assert "--method" in capsys.readouterr().err


def test_namespace_config_round_trips(tmp_path):
    args = _parse(["run", "--method", "rea", "--out", "o", "--budgets", "5,10", "--screen"])
    written = namespace_config(args, exclude=("out",))
    assert "config" not in written and "out" not in written and written["budgets"] == [5, 10]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(written))
    again = _parse(["run", "--config", str(path), "--out", "o2"])
    assert namespace_config(again, exclude=("out",)) == written
    assert read_config_file(path) == written
