import subprocess
import sys

MODULES = [
    "nasspace",
    "nasspace.nb201",
    "nasspace.nb101",
    "nasspace.darts",
    "nasspace.flex",
    "nasspace.fetch",
    "nasspace.oracle",
    "nasspace.atomic",
    "nasspace.benchmarks.nb201",
    "nasspace.benchmarks.nb201_official",  # imports torch and nas_201_api only when a file is read
    "nasspace.benchmarks.subsets",
    "nasspace.choice",
    "nasspace.nbgraph",
    "nasspace.tnb101",
    "nasspace.benchmarks.tnb101",
    "nasspace.benchmarks.registry",
    "nasspace.benchmarks.table",
    "nasspace.benchmarks.user",
    "nasspace.benchmarks.nbgraph",
    "nasspace.benchmarks.nb201_latency",
    "nasspace.benchmarks.safe_pickle",
]


def test_importing_nasspace_loads_neither_torch_nor_the_other_packages():
    code = (
        f"import importlib, sys; [importlib.import_module(m) for m in {MODULES!r}]; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'crlso', 'darts_backend', 'nas_201_api')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
