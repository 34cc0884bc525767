"""The Pareto set of a set-emitting search: which architectures no other one beats on both accuracy and size,
and the plot of accuracy against size with that front drawn.

An entry is a ``genotypes.json`` item (a dict with ``params`` and ``flops`` in millions and an accuracy
under some key). Entry *a* dominates *b* when a's accuracy is >= b's and a's cost is <= b's, one of the
two strictly; the front is the set of entries nothing dominates. Entries without a finite accuracy are
never on the front (they were not measured).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nasspace.atomic import atomic_path
from darts_backend.errors import ConfigError

__all__ = ["COST_AXES", "pareto_indices", "plot_pareto"]

COST_AXES = {"params": "parameters (M)", "flops": "FLOPs (M, multiply-adds)"}


def _check_axis(cost: str) -> None:
    if cost not in COST_AXES:
        raise ConfigError(f"unknown cost axis {cost!r}; valid: {', '.join(COST_AXES)}")


def _accuracy(entry: dict[str, Any], key: str) -> float:
    value = entry.get(key)
    return float(value) if isinstance(value, (int, float)) and math.isfinite(float(value)) else math.nan


def pareto_indices(entries: Sequence[dict[str, Any]], *, accuracy: str, cost: str = "params") -> list[int]:
    """Indices (in input order) of the entries no other entry dominates on (`accuracy` up, `cost` down).

    Args:
        entries: dicts with a numeric `cost` (``params`` or ``flops``) and, ideally, a numeric `accuracy`.
        accuracy: the key of the accuracy (a held-out one: ``heldout_acc`` or a retrained ``valid_acc``).
        cost: ``params`` or ``flops``.

    Raises:
        ValueError: an unknown cost axis, or an entry without a numeric cost.
    """
    _check_axis(cost)
    points = []
    for i, entry in enumerate(entries):
        if not isinstance(entry.get(cost), (int, float)):
            raise ConfigError(f"entry {i} has no numeric {cost!r}")
        points.append((_accuracy(entry, accuracy), float(entry[cost])))
    front = []
    for i, (acc_i, cost_i) in enumerate(points):
        if math.isnan(acc_i):
            continue
        dominated = any(acc_j >= acc_i and cost_j <= cost_i and (acc_j > acc_i or cost_j < cost_i)
                        for j, (acc_j, cost_j) in enumerate(points) if j != i and not math.isnan(acc_j))
        if not dominated:
            front.append(i)
    return front


def plot_pareto(entries: Sequence[dict[str, Any]], path: str | Path, *, accuracy: str, cost: str = "params",
                accuracy_label: str = "held-out accuracy (%)", title: str = "") -> None:
    """Accuracy (%) against cost of every entry with a finite accuracy, the front joined by a step line;
    each point is labelled with its index in `entries`. Saved atomically as PNG.

    Raises:
        ValueError: as `pareto_indices`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    front = set(pareto_indices(entries, accuracy=accuracy, cost=cost))
    fig, ax = plt.subplots(figsize=(5, 3.5))
    measured = [i for i, e in enumerate(entries) if not math.isnan(_accuracy(e, accuracy))]
    for i in measured:
        x, y = float(entries[i][cost]), 100 * _accuracy(entries[i], accuracy)
        ax.plot([x], [y], "o", color="tab:blue" if i in front else "tab:gray", alpha=1.0 if i in front else 0.6)
        ax.annotate(str(i), (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
    ordered = sorted(front, key=lambda i: float(entries[i][cost]))
    if ordered:
        ax.step([float(entries[i][cost]) for i in ordered], [100 * _accuracy(entries[i], accuracy) for i in ordered],
                where="post", color="tab:blue", label="Pareto front")
        ax.legend(fontsize=7, loc="best")
    if len(measured) < len(entries):
        ax.text(0.01, 0.01, f"{len(entries) - len(measured)} not measured", transform=ax.transAxes, fontsize=7)
    ax.set_xlabel(COST_AXES[cost])
    ax.set_ylabel(accuracy_label)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        with atomic_path(Path(path), suffix=".png") as tmp:
            fig.savefig(tmp, dpi=120, format="png")
    finally:
        plt.close(fig)
