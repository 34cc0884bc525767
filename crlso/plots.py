"""Figures: best-so-far curves with confidence bands."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_best_so_far"]


def plot_best_so_far(
    summaries: Sequence[dict[str, Any]],
    path: str | Path,
    *,
    report_metric: str = "test_acc",
    budgets: Sequence[int] = (),
) -> Path:
    """Mean best-so-far ``report_metric`` per method against queries, with 95% t-bands; a PNG.

    Args:
        summaries: run summaries (``method`` and ``best_so_far`` of each).
        path: where the PNG goes (written via a temporary file, then renamed).
        budgets: queries at which to draw faint vertical guides.
    """
    import os

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats

    by_method: dict[str, list[list[float]]] = {}
    for summary in summaries:
        by_method.setdefault(summary["method"], []).append(summary["best_so_far"])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method, curves in by_method.items():
        length = min(len(c) for c in curves)
        arr = np.asarray([c[:length] for c in curves], dtype=float)
        steps = np.arange(1, length + 1)
        mean = np.nanmean(arr, axis=0)
        if arr.shape[0] > 1:
            half = stats.t.ppf(0.975, arr.shape[0] - 1) * np.nanstd(arr, axis=0, ddof=1) / np.sqrt(arr.shape[0])
        else:
            half = np.zeros_like(mean)
        ax.plot(steps, mean, label=f"{method} (n={arr.shape[0]})")
        ax.fill_between(steps, mean - half, mean + half, alpha=0.25)
    for b in budgets:
        ax.axvline(b, color="grey", lw=0.5, ls=":")
    ax.set_xlabel("queries")
    ax.set_ylabel(f"{report_metric} of best-so-far")
    finite = [v for curves in by_method.values() for c in curves for v in c[9:] if np.isfinite(v)]
    if finite:
        ax.set_ylim(np.percentile(finite, 2) - 0.2, max(finite) + 0.1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
    return path
