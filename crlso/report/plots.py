"""Figures: best-so-far curves with confidence bands, cell drawings, latent maps, predicted vs true,
and (for darts-backend runs) alpha evolution, training curves and genotype sets.

Every function writes one PNG atomically (temporary file, then rename) and returns its path;
matplotlib (Agg) and networkx are imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nasspace.atomic import atomic_path

__all__ = [
    "plot_best_so_far",
    "plot_cells",
    "plot_latent_map",
    "plot_predicted_vs_true",
    "plot_alpha_history",
    "plot_training_curves",
    "plot_genotype_set",
]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG atomically and close it."""
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        _pyplot().close(fig)
    return Path(path)


def plot_best_so_far(
    summaries: Sequence[dict[str, Any]],
    path: str | Path,
    *,
    report_metric: str = "test_acc",
    budgets: Sequence[int] = (),
    optimum: float | None = None,
    note: str = "",
) -> Path:
    """Best-so-far curves per method against queries, mean ± one standard error over seeds; a PNG.

    With ``optimum`` (the best ``report_metric`` of the table) the curves are the regret
    ``optimum - report_metric`` of the best-so-far cell on a log y-scale (zero regret is drawn at
    ``REGRET_FLOOR``), as NASLib and naszilla plot them; without one (no table) the metric itself.

    Args:
        summaries: run summaries (``method`` and ``best_so_far`` of each).
        path: where the PNG goes (written via a temporary file, then renamed).
        budgets: queries at which to draw faint vertical guides.
        note: a line printed under the axes (e.g. which initial queries the methods share).
    """
    import textwrap

    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()

    by_method: dict[str, list[list[float]]] = {}
    for summary in summaries:
        by_method.setdefault(summary.get("variant") or summary["method"], []).append(summary["best_so_far"])
    fig, ax = plt.subplots(figsize=(7, 4.8 if note else 4.5))
    styles = ("-", "--", "-.", ":")  # methods whose curves coincide (shared initial queries) stay visible
    for k, (method, curves) in enumerate(by_method.items()):
        length = min(len(c) for c in curves)
        arr = np.asarray([c[:length] for c in curves], dtype=float)
        if optimum is not None:
            arr = np.maximum(optimum - arr, REGRET_FLOOR)
        steps = np.arange(1, length + 1)
        mean = np.nanmean(arr, axis=0)
        n = arr.shape[0]
        se = np.nanstd(arr, axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros_like(mean)
        line, = ax.plot(steps, mean, ls=styles[k % len(styles)], lw=1.6, label=f"{method} (n={n})")
        low = np.maximum(mean - se, REGRET_FLOOR) if optimum is not None else mean - se
        ax.fill_between(steps, low, mean + se, alpha=0.2, color=line.get_color(), linewidth=0)
    for b in budgets:
        ax.axvline(b, color="grey", lw=0.5, ls=":")
    ax.set_xlabel("queries")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    spread = "mean ± 1 standard error over seeds" if any(len(c) > 1 for c in by_method.values()) else "one seed each, no band"
    if optimum is not None:
        ax.set_yscale("log")
        ax.set_ylabel(f"regret: table best {report_metric} ({optimum:.2f})\nminus {report_metric} of best-so-far cell")
        ax.set_title(f"regret, {spread} (log scale; 0 drawn at {REGRET_FLOOR:g})", fontsize=9)
    else:
        ax.set_ylabel(f"{report_metric} of best-so-far cell")
        ax.set_title(spread, fontsize=9)
        finite = [v for curves in by_method.values() for c in curves for v in c[9:] if np.isfinite(v)]
        if finite:
            ax.set_ylim(np.percentile(finite, 2) - 0.2, max(finite) + 0.1)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    if note:
        fig.text(0.01, 0.01, textwrap.fill(note, 120), fontsize=7.5, color="#444444", ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.05 if note else 0, 1, 1))
    return _save(fig, path, dpi=120)


REGRET_FLOOR = 1e-2
"""Regret (percentage points) at which zero regret is drawn on the log scale."""


_OP_COLORS = {
    "input": "#dddddd", "output": "#dddddd", "none": "#ffffff", "skip_connect": "#9ecae1",
    "nor_conv_1x1": "#fdae6b", "nor_conv_3x3": "#e6550d", "avg_pool_3x3": "#a1d99b",
}


def _dag_layout(graph) -> dict[Any, tuple[float, float]]:
    """Left-to-right layers by longest path from the inputs; nodes of a layer spread vertically."""
    import networkx as nx

    pos = {}
    for x, layer in enumerate(nx.topological_generations(graph)):
        layer = sorted(layer)
        for k, node in enumerate(layer):
            pos[node] = (float(x), (len(layer) - 1) / 2 - k)
    return pos


def plot_cells(cells: Sequence[tuple[str, Any]], path: str | Path, *, columns: int = 3) -> Path:
    """Draw cells as DAGs (operations on nodes), one panel per ``(title, networkx.DiGraph)``.

    Graphs come from ``space.to_graph(g).to_networkx()``: nodes carry an ``op`` attribute.
    """
    import networkx as nx

    plt = _pyplot()
    rows = max(1, -(-len(cells) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, graph) in zip(axes.flat, cells):
        pos = _dag_layout(graph)
        ops = [graph.nodes[n].get("op", "?") for n in graph.nodes]
        colors = [_OP_COLORS.get(op, "#c6dbef") for op in ops]
        nx.draw_networkx_edges(graph, pos, ax=ax, arrows=True, arrowsize=12, node_size=1400, edge_color="#555555")
        nx.draw_networkx_nodes(graph, pos, ax=ax, node_color=colors, node_size=1400, edgecolors="#333333")
        labels = {n: graph.nodes[n].get("op", "?").replace("nor_conv_", "conv ").replace("_connect", "").replace("avg_pool_", "pool ")
                  for n in graph.nodes}
        nx.draw_networkx_labels(graph, pos, labels=labels, ax=ax, font_size=7)
        ax.set_title(title, fontsize=8)
        ax.margins(0.15)
    fig.tight_layout()
    return _save(fig, path)


def plot_latent_map(
    xy: np.ndarray,
    color: np.ndarray,
    path: str | Path,
    *,
    highlight: np.ndarray | None = None,
    star: int | None = None,
    color_label: str = "valid_acc",
    title: str = "",
    axis_shares: tuple[float, float] | None = None,
    highlight_label: str = "queried by the run",
) -> Path:
    """2-D projection of latent codes, colored by a metric.

    Args:
        xy: ``(N, 2)`` projected codes.
        color: ``(N,)`` metric per point (low values are clipped at the 5th percentile for contrast).
        highlight: indices drawn on top with black edges (e.g. a run's queried cells).
        star: index marked with a star (e.g. the table optimum).
        axis_shares: share of the codes' variance along each axis (printed in the axis labels).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 5.5))
    order = np.argsort(color)  # best points drawn last
    low = np.percentile(color, 5)
    sc = ax.scatter(xy[order, 0], xy[order, 1], c=np.clip(color[order], low, None), s=3, cmap="viridis", linewidths=0)
    fig.colorbar(sc, ax=ax, label=f"{color_label} (clipped at 5th percentile)")
    if highlight is not None and len(highlight):
        ax.scatter(xy[highlight, 0], xy[highlight, 1], s=14, facecolors="none", edgecolors="black", linewidths=0.7,
                   label=f"{highlight_label} ({len(highlight)})")
    if star is not None:
        ax.scatter(xy[star, 0], xy[star, 1], s=220, marker="*", c="red", edgecolors="white", label="table optimum")
    shares = axis_shares or (None, None)
    for k, (setter, share) in enumerate(((ax.set_xlabel, shares[0]), (ax.set_ylabel, shares[1]))):
        setter(f"PC {k + 1}" + ("" if share is None else f" ({100 * share:.0f}% of variance)"))
    ax.set_title(title, fontsize=9)
    if highlight is not None or star is not None:
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def plot_predicted_vs_true(
    predicted: np.ndarray,
    true: np.ndarray,
    path: str | Path,
    *,
    train: np.ndarray | None = None,
    label: str = "valid_acc",
    title: str = "",
) -> Path:
    """Scatter of predicted against true values; ``train`` indices (the fitted points) in red."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5.5))
    mask = np.ones(len(true), dtype=bool)
    if train is not None:
        mask[train] = False
    ax.scatter(true[mask], predicted[mask], s=3, alpha=0.3, c="#3182bd", linewidths=0, label="not used for fitting")
    if train is not None and len(train):
        ax.scatter(true[train], predicted[train], s=12, c="#de2d26", label=f"fitted ({len(train)})")
    # zoom on where the cells are: the few far-off ones (e.g. untrainable cells near chance) are counted, not drawn
    low = float(min(np.percentile(true, 5), np.percentile(predicted, 5)))
    high = float(max(np.max(true), np.max(predicted)))
    pad = 0.03 * (high - low)
    ax.plot([low, high], [low, high], color="black", lw=0.8, ls="--", label="predicted = true")
    ax.set_xlim(low - pad, high + pad)
    ax.set_ylim(low - pad, high + pad)
    outside = int(np.sum((true < low - pad) | (predicted < low - pad)))
    if outside:
        ax.text(0.99, 0.01, f"{outside} cells below {low - pad:.1f} not shown", transform=ax.transAxes, ha="right",
                va="bottom", fontsize=7.5, color="#444444")
    ax.set_xlabel(f"true {label}")
    ax.set_ylabel(f"predicted {label}")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_alpha_history(
    epochs: Sequence[int],
    alphas: np.ndarray,
    ops: Sequence[str],
    path: str | Path,
    *,
    panel_names: Sequence[str],
    title: str = "",
) -> Path:
    """Architecture weights per operation against epoch, one panel per edge (or per cell).

    All panels share one y-scale, so edges compare at a glance.

    Args:
        alphas: ``(epochs, panels, ops)`` weights as logged (for cells with many edges, the caller
            averages over the edges of a panel first).
        panel_names: one title per panel.
    """
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    panels = alphas.shape[1]
    columns = min(3, panels)
    rows = -(-panels // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 2.8 * rows), squeeze=False, sharex=True, sharey=True)
    for ax in axes.flat[panels:]:
        ax.axis("off")
    for p, ax in enumerate(axes.flat[:panels]):
        for o, op in enumerate(ops):
            color = "black" if op == "none" else _OP_COLORS.get(op)  # "none" is white in cell drawings
            ax.plot(epochs, alphas[:, p, o], marker="o", ms=3, label=op, color=color, ls="--" if op == "none" else "-")
        ax.set_title(panel_names[p], fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("weight (softmax)")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(ops), fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    return _save(fig, path)


def plot_training_curves(
    epochs: Sequence[int],
    series: dict[str, Sequence[float]],
    path: str | Path,
    *,
    ylabel: str = "",
    title: str = "",
) -> Path:
    """Per-epoch values against epoch (integer ticks), one line per ``{label: values}`` entry; NaN values are gaps."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.2 + 0.22 * len(series)))
    for label, values in series.items():
        ax.plot(epochs, [np.nan if v is None else v for v in values], marker="o", ms=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    # the legend goes under the axes: long labels (which split each line is measured on) never hide a line
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    fig.tight_layout()
    return _save(fig, path)


def plot_genotype_set(entries: Sequence[dict[str, Any]], path: str | Path, *, title: str = "") -> Path:
    """An emitted genotype set: held-out accuracy (and retrained accuracy, when present) against parameters
    and against FLOPs, in percent, points numbered as in the set.

    Accuracies stored as fractions in [0, 1] are drawn as percent.
    """
    plt = _pyplot()

    def percent(entry: dict[str, Any], key: str) -> float:
        value = entry.get(key)
        value = float(value) if isinstance(value, (int, float)) else np.nan
        return 100 * value if value <= 1.0 else value

    lines = [("heldout_acc", "held-out accuracy of the supernet at emission", "o", "#3182bd")]
    if any("retrained_acc" in e for e in entries):
        lines.append(("retrained_acc", "accuracy after retraining from scratch (held-out share)", "s", "#e6550d"))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    for ax, key, label in ((axes[0], "params", "parameters (M)"), (axes[1], "flops", "FLOPs (M)")):
        xs = np.asarray([float(e.get(key, np.nan)) for e in entries])
        order = np.argsort(xs, kind="stable")
        for acc_key, acc_label, marker, color in lines:
            ys = np.asarray([percent(e, acc_key) for e in entries])
            ax.plot(xs[order], ys[order], marker=marker, ls="-", lw=1, color=color, label=acc_label)
            for i, (x, y) in enumerate(zip(xs, ys)):
                if np.isfinite(y):
                    ax.annotate(str(i), (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7, color=color)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy (%)")
    axes[0].legend(fontsize=8, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
