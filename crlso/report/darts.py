"""The report of a ``darts-backend`` run, read as files: alpha evolution, training curves, the derived cell
or the emitted genotype set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from crlso.report import html as H
from crlso.report.common import Status, _read_json, _read_jsonl

__all__: list[str] = []


# -- darts-backend runs ---------------------------------------------------------------------------
def _darts_sections(run_dir: Path, out: Path, status: Status) -> tuple[str, str, list[str]]:
    from nasspace import genotype_from_json, get_space

    from crlso.report.plots import plot_alpha_history, plot_cells

    config = _read_json(run_dir / "config.json") or {}
    result = _read_json(run_dir / "result.json") or {}
    alphas = _read_json(run_dir / "alphas.json") or {}
    metrics = _read_jsonl(run_dir / "metrics.jsonl")
    method = config.get("method") or alphas.get("method", "?")
    space = config.get("space") or alphas.get("space", "?")
    title = f"darts-backend run: {method} on {space}"
    subtitle = (f"{run_dir} · seed {config.get('seed', '?')} · {len(metrics)} epochs logged · "
                f"C={config.get('channels', '?')}, cells={config.get('cells', '?')}")
    sections = []
    rows = [[key, value] for key, value in result.items() if not isinstance(value, (list, dict))]
    if rows:
        sections.append(H.section("Result", H.table(["field", "value"], rows)))

    history = alphas.get("history", [])
    if history:
        epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
        arr = np.asarray([h["alphas"] for h in history], dtype=float)
        ops = alphas.get("ops", [str(i) for i in range(arr.shape[-1])])
        if arr.ndim == 3:  # (epochs, edges, ops): one panel per edge
            edges = alphas.get("edges") or [[0, e + 1] for e in range(arr.shape[1])]
            names = [f"edge {a} -> {b}" for a, b in edges]
            caption = "architecture weights of every edge per epoch, as logged"
        else:  # (epochs, cells, edges, ops): one panel per cell, averaged over the edges still alive
            alive = arr.sum(axis=-1, keepdims=True) > 0
            arr = (arr * alive).sum(axis=2) / np.maximum(alive.sum(axis=2), 1)
            layout = alphas.get("layout") or ["cell"] * arr.shape[1]
            names = [f"cell {c} ({kind})" for c, kind in enumerate(layout)]
            caption = "architecture weights per operation, averaged over each cell's remaining edges, per epoch"
        png = plot_alpha_history(epochs, arr, ops, out / "alpha_history.png", panel_names=names, title=f"{method}: alpha evolution")
        sections.append(H.section("Alpha evolution", H.figure(png, caption)))
    if metrics:
        status("training curves")
        sections.append(_darts_curves(metrics, config, out))

    single = _read_json(run_dir / "genotype.json")
    if single:
        genotype = genotype_from_json(single)
        space_obj = get_space(single["space"])
        label = f"{method} final cell"
        lookup = [(k, v) for k, v in result.items() if k.startswith("nb201_") and isinstance(v, (int, float))]
        if lookup:  # e.g. nb201_cifar10_test_acc
            key, value = lookup[0]
            label += f": NB201 table {key.removeprefix('nb201_').removesuffix('_percent').replace('_', ' ', 1)} {value:.2f}"
        parts = [H.figure(plot_cells([(label, space_obj.to_graph(genotype).to_networkx())], out / "cell.png", columns=1),
                          "the derived cell, operations on nodes"),
                 H.paragraph(f"genotype: {genotype}")]
        by_epoch = [[r.get("epoch", i + 1), r["genotype"]] for i, r in enumerate(metrics) if "genotype" in r and len(str(r["genotype"])) < 200]
        head = ["epoch", "derived genotype"]
        if by_epoch and single["space"] == "nb201":  # the standard DARTS-on-NB201 columns beside each epoch's cell
            table_curves, _ = _nb201_table_curves([r for r in metrics if "genotype" in r], config)
            if any("acc" in r for r in metrics):
                head.append("supernet acc (%, train batches)")
                for row, record in zip(by_epoch, [r for r in metrics if "genotype" in r]):
                    row.append(f"{_percent(record.get('acc')):.2f}")
            for label, values in table_curves.items():
                head.append("NB201 " + label.split(":")[1].split(" of ")[0].strip())  # e.g. "NB201 CIFAR-10 test_acc"
                for row, value in zip(by_epoch, values):
                    row.append(f"{value:.2f}")
        if by_epoch:
            parts.append(H.table(head, by_epoch))
        sections.append(H.section("Derived cell", *parts))
    entries = _read_json(run_dir / "genotypes.json")
    if entries:
        sections.append(_genotype_set_section(entries, config, method, out))
    return title, subtitle, sections



_CURVE_LABELS = {
    "acc": "supernet accuracy on its training batches (train split)",
    "valid_acc": "supernet accuracy on the held-out share of the train split",
    "search_acc": "supernet accuracy on its training batches (train split)",
    "loss": "training loss, regulariser included (train split)",
    "valid_loss": "loss on the held-out share of the train split",
    "ce": "cross-entropy (train split)",
    "kd": "distillation loss (train split)",
}
"""What each per-epoch key of a darts-backend ``metrics.jsonl`` measures, split named."""


def _percent(value: Any) -> float:
    """An accuracy as percent: darts-backend files hold fractions in [0, 1]; values above 1 are taken as percent already."""
    value = float(value) if isinstance(value, (int, float)) else float("nan")
    return 100 * value if value <= 1.0 else value


def _darts_curves(metrics: list[dict[str, Any]], config: dict[str, Any], out: Path) -> str:
    """Per-epoch accuracy (percent) and losses; for NB201, the table accuracy of each epoch's derived cell beside them."""
    from crlso.report.plots import plot_training_curves

    epochs = [r.get("epoch", i + 1) for i, r in enumerate(metrics)]
    series = {_CURVE_LABELS[k]: [_percent(r[k]) if k in r else float("nan") for r in metrics]
              for k in ("acc", "valid_acc", "search_acc") if any(k in r for r in metrics)}
    parts, notes = [], []
    if (config.get("space") or "") == "nb201" and any("genotype" in r for r in metrics):
        table_series, note = _nb201_table_curves(metrics, config)
        series.update(table_series)
        notes.append(note)
    if series:
        png = plot_training_curves(epochs, series, out / "accuracy.png", ylabel="accuracy (%)",
                                   title="accuracy per epoch (%)")
        parts.append(H.figure(png, "per-epoch accuracy in percent: " + "; ".join(series) + ". " + " ".join(notes)))
    losses = {_CURVE_LABELS[k]: [float(r.get(k, float("nan"))) for r in metrics]
              for k in ("loss", "valid_loss", "ce", "kd") if any(k in r for r in metrics)}
    if losses:
        parts.append(H.figure(plot_training_curves(epochs, losses, out / "loss.png", ylabel="loss", title="losses per epoch"),
                              "per-epoch losses, split named"))
    return H.section("Training curves", *parts)


def _nb201_table_curves(metrics: list[dict[str, Any]], config: dict[str, Any]) -> tuple[dict[str, list[float]], str]:
    """NB201 CIFAR-10 table accuracies of the genotype derived at each epoch (the standard DARTS-on-NB201 curve)."""
    from crlso.oracles import load_table

    try:
        table = load_table("cifar10", None)
    except Exception as exc:  # noqa: BLE001 - without the table the curves show the search accuracy only
        return {}, f"(The NB201 table could not be read, so the derived cells' table accuracy is not shown: {exc}.)"
    curves = {}
    for metric, label in (("valid_acc", "NB201 table: cifar10-valid valid_acc of the epoch's derived cell"),
                          ("test_acc", "NB201 table: CIFAR-10 test_acc of the epoch's derived cell")):
        curves[label] = [table.query(r["genotype"], metric) if "genotype" in r else float("nan") for r in metrics]
    return curves, ("The NB201 lines are the benchmark table's accuracies of the cell derived from the alphas at the end of "
                    "each epoch, trained from scratch for 200 epochs by NAS-Bench-201 (not by this run).")


def _genotype_set_section(entries: list[dict[str, Any]], config: dict[str, Any], method: str, out: Path) -> str:
    """A DNAD/FX-DARTS set: held-out (and, after ``retrain-set``, retrained) accuracy against size, and a table."""
    from crlso.report.plots import plot_genotype_set

    retrained = any("retrained_acc" in e for e in entries)
    axis = config.get("pareto_axis", "params")
    png = plot_genotype_set(entries, out / "genotype_set.png", title=f"{method}: emitted genotype set ({len(entries)})")
    head = ["#", "epoch", "reason", "params (M)", "FLOPs (M)", "held-out acc (%)"]
    if retrained:
        head += ["retrained acc (%)", "retrained test acc (%)", "on retrained front"]
    head.append("(op, input) pairs")
    rows = []
    for i, entry in enumerate(entries):
        ops = sum(len(pairs) for cell in entry.get("cells", []) for pairs in cell.get("nodes", []))
        row = [i, entry.get("epoch", ""), entry.get("reason", ""), f"{entry.get('params', float('nan')):.4f}",
               f"{entry.get('flops', float('nan')):.2f}", f"{_percent(entry.get('heldout_acc')):.2f}"]
        if retrained:
            row += [f"{_percent(entry.get('retrained_acc')):.2f}", f"{_percent(entry.get('retrained_test_acc')):.2f}",
                    "yes" if entry.get("retrained_front") else "no"]
        rows.append(row + [ops])
    caption = (f"each emitted genotype's accuracy against its size; the set is Pareto-filtered on held-out accuracy against {axis}. "
               "Held-out accuracy: the supernet's accuracy, at the moment the genotype was emitted, on the share of the train "
               "split the search never trained on.")
    if retrained:
        settings = next((e.get("retrain", {}).get("settings") for e in entries if e.get("retrain")), None) or {}
        described = ", ".join(f"{k} {v}" for k, v in settings.items() if k in ("epochs", "channels", "cells"))
        caption += (" Retrained accuracy: each genotype trained from scratch by darts-backend retrain-set"
                    f"{f' ({described})' if described else ''}, measured on the held-out share of the train split; "
                    "its test accuracy (test split) is in the table.")
    else:
        caption += " Run darts-backend retrain-set to train each member from scratch and add its retrained accuracy."
    return H.section("Genotype set", H.figure(png, caption), H.table(head, rows))
