"""The dependency rule: only crlso/search/hybrid.py and the oracles (crlso/oracles/training.py, crlso/oracles/supernet.py)
import darts_backend, and only lazily."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import crlso

ALLOWED = {"search/hybrid.py", "oracles/training.py", "oracles/supernet.py"}


def _darts_backend_imports(path: Path) -> list[tuple[int, bool]]:
    """``(line, at module level)`` of every import of darts_backend in ``path``."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        if any(name.split(".")[0] == "darts_backend" for name in names):
            found.append((node.lineno, id(node) in top))
    return found


def test_only_hybrid_and_oracles_import_darts_backend_and_only_inside_functions() -> None:
    root = Path(crlso.__file__).parent
    importers = {}
    for path in sorted(root.rglob("*.py")):
        imports = _darts_backend_imports(path)
        if imports:
            importers[path.relative_to(root).as_posix()] = imports
    assert set(importers) <= ALLOWED, f"darts_backend imported from {sorted(set(importers) - ALLOWED)}"
    assert "oracles/training.py" in importers  # the scan sees the imports it is meant to police
    eager = {name: [line for line, top in lines if top] for name, lines in importers.items()}
    assert not any(eager.values()), f"module-level darts_backend imports: {eager}"


def test_importing_crlso_modules_loads_no_darts_backend() -> None:
    modules = ["crlso.oracles", "crlso.oracles.training", "crlso.oracles.supernet", "crlso.search.hybrid", "crlso.experiments.run", "crlso.experiments.compare", "crlso.experiments.finalize", "crlso.experiments.oracle_bench", "crlso.cli"]
    code = (f"import importlib, sys; [importlib.import_module(m) for m in {modules!r}]; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'darts_backend'); print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
