"""The package layout (issue 19): modules of a readable size, subpackages that say what they export, and a
top-level ``crlso`` whose public names load lazily (``import crlso`` imports no torch)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import crlso

ROOT = Path(crlso.__file__).parent
MAX_LINES = 400
TOO_LONG_ALLOWED = {
    # The CR-LSO searcher: its config, its bounds and one searcher class (402 lines); splitting the class is
    # beyond the move-only layout change.
    "search/crlso.py": 410,
}


def _packages() -> list[str]:
    return sorted(".".join(("crlso", *p.parent.relative_to(ROOT).parts)) for p in ROOT.rglob("__init__.py"))


def test_no_module_is_over_400_lines() -> None:
    too_long = {}
    for path in sorted(ROOT.rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        lines = len(path.read_text().splitlines())
        if lines > TOO_LONG_ALLOWED.get(name, MAX_LINES):
            too_long[name] = lines
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"


def test_every_package_defines_all_and_every_name_resolves() -> None:
    packages = _packages()
    assert {"crlso", "crlso.models", "crlso.search", "crlso.oracles", "crlso.ranking", "crlso.experiments", "crlso.report",
            "crlso.cli"} <= set(packages)
    for name in packages:
        package = importlib.import_module(name)
        assert isinstance(getattr(package, "__all__", None), list), f"{name} defines no __all__"
        assert len(set(package.__all__)) == len(package.__all__), f"{name}.__all__ repeats a name"
        missing = [item for item in package.__all__ if getattr(package, item, None) is None]
        assert not missing, f"{name}.__all__ names what it does not hold: {missing}"


def test_import_crlso_loads_no_torch_and_its_public_names_resolve_lazily() -> None:
    code = ("import sys, crlso\n"
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'torch_geometric', 'networkx', 'tqdm', 'scipy'})\n"
            "print(heavy); assert not heavy, heavy\n"
            "assert crlso.kendall_tau([1, 2, 3], [1, 2, 3]) == 1.0\n"
            "assert crlso.RunConfig().method == 'crlso'\n"
            "assert 'crlso.experiments.run' in sys.modules  # the first read of a name imported its module\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "run_search" in dir(crlso) and crlso.run_search is importlib.import_module("crlso.search.base").run_search
