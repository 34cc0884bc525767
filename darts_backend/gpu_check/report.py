"""``gpu_check.md``: the check's document as tables a person reads, one per section."""

from __future__ import annotations

from typing import Any

from darts_backend.runs.precision import summarize_agreement

__all__ = ["render_markdown"]

_COLUMNS = {
    "throughput": ("space", "C", "cells", "batch_size", "variant", "images_per_s", "seconds_per_step",
                   "peak_memory_mb", "host_syncs_per_step"),
    "alpha_gradient": ("seed", "trained_steps", "batch", "cosine", "cosine_fp32_mixing", "cross_batch_cosine",
                       "fp32_norm"),
    "epochs": ("method", "space", "preset", "images", "seconds", "epoch_seconds", "images_per_s",
               "full_epoch_seconds_estimate", "genotype"),
    "crlso_search": ("device", "budget", "pretrained_here", "process_seconds", "search_seconds", "joint_fit_seconds",
                     "model_device"),
    "rank_bench": ("device", "n", "pretrained_here", "process_seconds", "table_tail"),
    "gpu_tests": ("test", "outcome", "seconds", "detail"),
}


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    text = str(value).replace("|", "/").replace("\n", " ")
    return (text[:117] + "...") if len(text) > 120 else text


def render_markdown(document: dict[str, Any]) -> str:
    """Every section: its status, why it is not ``ok``, and its rows."""
    config = document["config"]
    lines = [f"# gpu-check ({'quick, ' if config['quick'] else ''}device {config['device']})", "",
             f"{document['seconds']:.0f} s in all; images: {document['images']['source']} "
             f"({document['images']['chosen']}).", ""]
    for name, section in document["sections"].items():
        lines += [f"## {name}: {section['status']} ({section['seconds']:.1f} s)", ""]
        if section.get("reason"):
            lines += [f"Reason: {section['reason']}", ""]
        rows = section["rows"]
        if name == "environment" and rows:
            lines += [f"- {k}: {_cell(v)}" for k, v in rows[0].items()] + [""]
            continue
        if name == "alpha_gradient" and rows:
            lines += _cosine_summary(rows)
        columns = _COLUMNS.get(name, ())
        shown = [r for r in rows if "skipped" not in r and "error" not in r]
        if shown and columns:
            lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            lines += ["| " + " | ".join(_cell(r.get(c)) for c in columns) + " |" for r in shown]
            lines.append("")
        for r in rows:
            if "skipped" in r or "error" in r:
                what = ", ".join(f"{k}={_cell(v)}" for k, v in r.items() if k not in ("skipped", "error"))
                lines.append(f"- {'skipped' if 'skipped' in r else 'error'}{f' ({what})' if what else ''}: "
                             f"{r.get('skipped') or r.get('error')}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _cosine_summary(rows: list[dict[str, Any]]) -> list[str]:
    """Per trained-step count, the bf16-vs-fp32 cosine as searches run and with the fp32 mixing option."""
    measured = [r for r in rows if "cosine" in r]
    lines = summarize_agreement(measured) if measured else []
    return ["Cosine of the bf16 and fp32 alpha gradients on the same batch (the `gpu` test asks > 0.95):", ""] + \
        [f"- {line}" for line in lines] + [""]
