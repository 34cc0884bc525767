"""Misuse found by issue 33's probe: outputs that would overwrite their input, empty outputs, and requests for
more distinct NB201 cells than exist (a loop that never ended)."""

from __future__ import annotations

from pathlib import Path

import pytest

from darts_backend.cli import main
from darts_backend.runs.evaluator_bench import sample_cells
from nasspace.nb201 import NB201_SIZE
from nasspace.space import get_space


@pytest.fixture()
def cells_file(tmp_path: Path) -> Path:
    path = tmp_path / "cells.txt"
    path.write_text("\n".join(str(g) for g in sample_cells(3, 0)) + "\n")
    return path


@pytest.mark.parametrize("command", [
    ["zc", "--space", "nb201", "--proxies", "params", "--data", "synthetic"],
    ["evaluator-bench", "--evaluator", "zc:params"],
])
def test_an_output_that_is_the_cells_input_is_refused_and_the_input_kept(command, cells_file: Path, capsys) -> None:
    before = cells_file.read_text()
    flag = "--cells" if command[0] == "zc" else "--cells-file"
    assert main([*command, flag, str(cells_file), "--out", str(cells_file)]) == 2
    assert "overwrite" in capsys.readouterr().err and cells_file.read_text() == before
    assert main([*command, flag, str(cells_file), "--out", ""]) == 2
    assert "empty" in capsys.readouterr().err


def test_more_distinct_cells_than_nb201_holds_is_refused_at_once(capsys) -> None:
    assert NB201_SIZE == sum(1 for _ in get_space("nb201").enumerate()) == 15625
    with pytest.raises(ValueError, match="15625"):
        sample_cells(NB201_SIZE + 1, 0)
    assert main(["evaluator-bench", "--evaluator", "zc:params", "--cells", "15626", "--out", "x.json"]) == 2
    assert "more distinct cells" in capsys.readouterr().err
