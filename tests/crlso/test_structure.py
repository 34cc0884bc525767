"""The house rules of the import graph: registries import no plugin, and no package has an import circle."""

from __future__ import annotations

import ast
import builtins
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("crlso", "nasspace", "darts_backend")

# registry file -> the plugin modules it must not load (run on its own, without its package's __init__)
REGISTRIES = {
    "crlso/search/registry.py": ("crlso.search.crlso", "crlso.search.rea", "crlso.search.random", "crlso.search.hybrid"),
    "crlso/models/spaces/registry.py": ("crlso.models.spaces.builtin", "crlso.models.nb101.decoder", "crlso.models.decoder"),
    "crlso/oracles/registry.py": ("crlso.oracles.table", "crlso.oracles.training", "crlso.oracles.supernet"),
    "darts_backend/spaces/registry.py": ("darts_backend.spaces.builtin", "darts_backend.supernets", "torch"),
    "nasspace/benchmarks/registry.py": ("nasspace.benchmarks.nb201", "nasspace.benchmarks.tnb101", "nasspace.benchmarks.nbgraph"),
}


@pytest.mark.parametrize("path", sorted(REGISTRIES))
def test_registry_module_loads_no_plugin_in_a_fresh_interpreter(path: str) -> None:
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('registry_under_test', {str(ROOT / path)!r})\n"
        "module = importlib.util.module_from_spec(spec); sys.modules[spec.name] = module; spec.loader.exec_module(module)\n"
        f"print(sorted(set({list(REGISTRIES[path])!r}) & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"{path} loads {result.stdout.strip()}"


def _module_name(package_root: Path, path: Path) -> str:
    parts = list(path.relative_to(package_root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_edges(package: str) -> dict[str, set[str]]:
    """Module -> the package's modules it imports anywhere (function bodies included, TYPE_CHECKING blocks not)."""
    root = ROOT / package
    modules = {_module_name(root, p): p for p in root.rglob("*.py")}
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                node.body = []
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges[name].add(target)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circle_inside_a_package(package: str) -> None:
    assert _cycles(_import_edges(package)) == []


def test_the_circle_check_sees_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# Raises that are protocol, not errors a user sees: argparse turns ArgumentTypeError into its usage line, a PEP 562
# __getattr__ must raise AttributeError, abstract methods raise NotImplementedError, a module's __main__ exits,
# an interrupt is re-raised, a restricted unpickler refuses with UnpicklingError (converted to a DataError by its caller),
# and an unreachable branch asserts.
PROTOCOL_RAISES = {"ArgumentTypeError", "AttributeError", "NotImplementedError", "SystemExit", "KeyboardInterrupt",
                   "UnpicklingError", "AssertionError"}


def _raised_classes(package: str) -> list[tuple[str, int, type]]:
    """(file, line, class) of every ``raise Name(...)`` / ``raise Name`` in ``package`` whose name is a class."""
    import importlib

    found = []
    root = ROOT / package
    for path in sorted(root.rglob("*.py")):
        module = importlib.import_module(_module_name(root, path))
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            dotted = ast.unparse(target).split(".")
            value = vars(module).get(dotted[0])
            for part in dotted[1:]:
                value = getattr(value, part, None)
            if value is None and len(dotted) == 1:
                value = vars(builtins).get(dotted[0])
            if isinstance(value, type):
                found.append((str(path.relative_to(ROOT)), node.lineno, value))
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_every_raised_exception_derives_from_its_package_base(package: str) -> None:
    from nasspace.errors import NasSpaceError

    from crlso.errors import CrlsoError
    from darts_backend.errors import DartsBackendError

    allowed = {"nasspace": (NasSpaceError,), "crlso": (CrlsoError, NasSpaceError),
               "darts_backend": (DartsBackendError, NasSpaceError)}[package]
    raised = _raised_classes(package)
    assert len(raised) > 50  # the walk found the package's raises
    bad = [f"{path}:{line} raises {cls.__name__}" for path, line, cls in raised
           if not issubclass(cls, allowed) and cls.__name__ not in PROTOCOL_RAISES]
    assert not bad, "\n".join(bad)


def test_the_error_trees_keep_the_builtin_kinds_callers_catch() -> None:
    from crlso.errors import ConfigError, CrlsoError, MissingFileError, RunLogError, TaskFailed
    from darts_backend.errors import ConfigError as BackendConfigError, DartsBackendError

    assert issubclass(ConfigError, ValueError) and issubclass(ConfigError, CrlsoError)
    assert issubclass(MissingFileError, FileNotFoundError) and issubclass(RunLogError, ValueError)
    assert issubclass(TaskFailed, RuntimeError) and issubclass(BackendConfigError, DartsBackendError)


MAX_FUNCTION_LINES = 80


@pytest.mark.parametrize("package", PACKAGES)
def test_no_function_is_over_80_lines(package: str) -> None:
    long = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = node.body[0]
                docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
                start = first.end_lineno + 1 if docstring and len(node.body) > 1 else first.lineno
                if node.end_lineno - start + 1 > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - start + 1} lines)")
    assert not long, "functions over 80 lines (docstring excluded):\n" + "\n".join(long)
