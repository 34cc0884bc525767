"""Run the gpu-check sections under their time boxes and write ``gpu_check.json`` and ``gpu_check.md``.

Each section runs in a child process (`darts_backend.gpu_check.sections`) with a timeout of its share of
the budget (plus a few seconds to start); a child that runs over is killed and its section says so, with
the rows it had already written. A section that fails says how. No section is ever left out: every name
in `SECTIONS` is in both files, with ``status`` one of ``ok``, ``partial``, ``skipped`` or ``failed``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from darts_backend.gpu_check.plan import SECTIONS, GpuCheckConfig, config_json, section_budgets, section_spec
from darts_backend.gpu_check.report import render_markdown
from nasspace.atomic import write_json_atomic, write_text_atomic

__all__ = ["run_gpu_check"]

_START_GRACE = 20.0  # seconds a child may take to import torch and start CUDA, beyond its share


def run_gpu_check(config: GpuCheckConfig, *, log=print) -> dict[str, Any]:
    """Run every section; returns the document written to ``OUT/gpu_check.json``.

    Raises:
        ValueError: ``device="cuda"`` where torch sees no CUDA device (before any section runs).
    """
    import torch

    if config.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda requested but torch sees no CUDA device; use --device cpu")
    images, how = config.resolved_images()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    budgets = section_budgets(config)
    started = time.time()
    sections: dict[str, Any] = {}
    for name in SECTIONS:
        if name in config.skip:
            sections[name] = {"status": "skipped", "reason": "--skip", "rows": [], "seconds": 0.0}
            continue
        log(f"gpu-check: {name} (time box {budgets[name]:.0f} s)", file=sys.stderr)
        sections[name] = _run_child(name, section_spec(config, name, images), out, budgets[name])
        log(f"gpu-check: {name} {sections[name]['status']} in {sections[name]['seconds']:.1f} s", file=sys.stderr)
    document = {"config": config_json(config), "images": {"source": images, "chosen": how},
                "seconds": round(time.time() - started, 1), "sections": sections}
    write_json_atomic(out / "gpu_check.json", document, sort_keys=False)
    write_text_atomic(out / "gpu_check.md", render_markdown(document))
    return document


def _run_child(name: str, spec: dict[str, Any], out: Path, budget: float) -> dict[str, Any]:
    rows_path = out / f"section-{name}.jsonl"
    rows_path.unlink(missing_ok=True)
    start = time.time()
    deadline = start + budget
    command = [sys.executable, "-m", "darts_backend.gpu_check.sections", name, json.dumps(spec), str(rows_path),
               repr(deadline)]
    status, reason = "ok", None
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=budget + _START_GRACE,
                                   stdin=subprocess.DEVNULL)
        if completed.returncode != 0:
            lines = completed.stderr.strip().splitlines()
            status, reason = "failed", f"exit {completed.returncode}: {lines[-1] if lines else 'no message'}"
    except subprocess.TimeoutExpired:
        status, reason = "partial", f"killed after its time box of {budget:.0f} s"
    rows = [json.loads(line) for line in rows_path.read_text(encoding="utf-8").splitlines() if line.strip()] \
        if rows_path.is_file() else []
    if status == "ok" and rows and all("skipped" in r for r in rows):
        status, reason = "skipped", rows[0]["skipped"]
    elif status == "ok" and any("skipped" in r or "error" in r for r in rows):
        status = "partial"
    elif status == "ok" and not rows:
        status, reason = "failed", "the section wrote no row"
    return {"status": status, "reason": reason, "seconds": round(time.time() - start, 1), "rows": rows}
