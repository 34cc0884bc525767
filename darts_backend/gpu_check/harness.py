"""Run the gpu-check sections under their time boxes and write ``gpu_check.json`` and ``gpu_check.md``.

Each section runs in a child process (`darts_backend.gpu_check.sections`) with a timeout of its share of
the budget, and never past the whole budget; the child is told a deadline a little before that (it starts
no measurement after it), and a child still running at its timeout is killed, keeping the rows it had
written. No section is ever left out: every name in `SECTIONS` is in both files, with ``status``:

- ``ok``: every row measured;
- ``partial``: some rows skipped (time box, ``--quick``) or in error, gpu tests that failed, or a child killed
  after writing rows (``reason`` says which);
- ``skipped``: nothing run (``--skip``, or every row skipped);
- ``failed``: the child exited with an error or was killed before writing a row.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from darts_backend.gpu_check.plan import SECTIONS, GpuCheckConfig, config_json, section_budgets, section_spec
from darts_backend.gpu_check.report import render_markdown
from nasspace.atomic import write_json_atomic, write_text_atomic
from darts_backend.errors import ConfigError

__all__ = ["run_gpu_check"]

_STOP_RESERVE = 10.0  # seconds of a child's share kept back from its deadline, to stop and write its row


def run_gpu_check(config: GpuCheckConfig, *, log: Callable[..., None] = print) -> dict[str, Any]:
    """Run every section; returns the document written to ``OUT/gpu_check.json``.

    Raises:
        ValueError: ``device="cuda"`` where torch sees no CUDA device, or ``images`` naming no file (before
            any section runs).
    """
    import torch

    if config.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda requested but torch sees no CUDA device; use --device cpu")
    images, how = config.resolved_images()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    budgets = section_budgets(config)
    started = time.time()
    end = started + config.budget_seconds
    sections: dict[str, Any] = {}
    for name in SECTIONS:
        if name in config.skip:
            sections[name] = {"status": "skipped", "reason": "--skip", "rows": [], "seconds": 0.0}
            continue
        log(f"gpu-check: {name} (time box {budgets[name]:.0f} s)", file=sys.stderr)
        timeout = max(1.0, min(budgets[name], end - time.time()))
        sections[name] = _run_child(name, section_spec(config, name, images), out, timeout)
        log(f"gpu-check: {name} {sections[name]['status']} in {sections[name]['seconds']:.1f} s", file=sys.stderr)
    document = {"config": config_json(config), "images": {"source": images, "chosen": how},
                "seconds": round(time.time() - started, 1), "sections": sections}
    write_json_atomic(out / "gpu_check.json", document, sort_keys=False)
    write_text_atomic(out / "gpu_check.md", render_markdown(document))
    return document


def _run_child(name: str, spec: dict[str, Any], out: Path, timeout: float) -> dict[str, Any]:
    """Run one section's child for at most `timeout` seconds; its rows and status."""
    rows_path = out / f"section-{name}.jsonl"
    rows_path.unlink(missing_ok=True)
    start = time.time()
    deadline = start + timeout - min(_STOP_RESERVE, 0.25 * timeout)  # the child starts nothing after it
    command = [sys.executable, "-m", "darts_backend.gpu_check.sections", name, json.dumps(spec), str(rows_path),
               repr(deadline)]
    killed, error = False, None
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if completed.returncode != 0:
            lines = completed.stderr.strip().splitlines()
            error = f"exit {completed.returncode}: {lines[-1] if lines else 'no message'}"
    except subprocess.TimeoutExpired:
        killed = True
    rows, torn = _read_rows(rows_path)
    status, reason = _status(rows, killed, error, timeout)
    if torn:
        reason = f"{reason}; " if reason else ""
        reason += f"{torn} unreadable row(s) dropped (a child killed while writing)"
    return {"status": status, "reason": reason, "seconds": round(time.time() - start, 1), "rows": rows}


def _read_rows(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The rows a child wrote, and how many lines did not parse (a row cut short by a kill)."""
    rows, torn = [], 0
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    torn += 1
    return rows, torn


def _status(rows: list[dict[str, Any]], killed: bool, error: str | None, timeout: float) -> tuple[str, str | None]:
    """A section's status and the reason it is not ``ok``."""
    if error is not None:
        return "failed", error
    if killed:
        what = f"killed after its time box of {timeout:.0f} s"
        return ("partial", what) if rows else ("failed", f"{what}, before writing a row")
    if not rows:
        return "failed", "the section wrote no row"
    if all("skipped" in r for r in rows):
        return "skipped", rows[0]["skipped"]
    problems = []
    for label, count in (("ran out of time", sum(bool(r.get("timed_out")) for r in rows)),
                         ("in error", sum("error" in r for r in rows)),
                         ("skipped", sum("skipped" in r and not r.get("timed_out") for r in rows)),
                         ("failed their test", sum(r.get("outcome") in ("failed", "error") for r in rows))):
        if count:
            problems.append(f"{count} of {len(rows)} {label}")
    return ("partial", "; ".join(problems)) if problems else ("ok", None)
