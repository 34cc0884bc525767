"""TensorBoard scalars of a supernet search, written once per epoch (`nasspace.tracking`).

Per epoch: ``train/<metric>`` for every number of the epoch's ``metrics.jsonl`` record (losses and
accuracies as the searcher reports them, learning rate, images/s), and ``alphas/...`` for the
softmax of the architecture weights as ``alphas.json`` holds them: ``alphas/edge<a>-<b>/<op>`` on
NB201, ``alphas/<normal|reduce>/edge<e>/<op>`` in the DARTS space, ``alphas/cell<c>/edge<e>/<op>`` for the
per-cell supernets of DNAD and FX-DARTS. Once per epoch, after it ended:
nothing is read from the device inside a training step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nasspace.tracking import ScalarTracker

__all__ = ["epoch_logger"]

_NOT_SCALARS = {"epoch", "steps", "genotype"}


def epoch_logger(tracker: ScalarTracker, trainer: Any) -> Callable[[int, dict[str, Any]], None] | None:
    """An ``on_epoch_end`` callback of `darts_backend.runs.trainer.SearchTrainer.fit` (None when not tracking)."""
    if not tracker.active:
        return None

    def log(epoch: int, record: dict[str, Any]) -> None:
        step = epoch + 1
        tracker.scalars("train", {k: v for k, v in record.items() if k not in _NOT_SCALARS}, step)
        document = trainer.alphas_document()
        alphas = document["history"][-1]["alphas"] if document["history"] else None
        if alphas is None:
            return
        ops = document["ops"]
        if document["space"] == "nb201":  # (edges, ops)
            for (a, b), row in zip(document["edges"], alphas):
                tracker.scalars(f"alphas/edge{a}-{b}", dict(zip(ops, row)), step)
        else:  # (cell types, edges, ops), or (cells, edges, ops) for a per-cell supernet
            names = document.get("cell_types") or [f"cell{c}" for c in range(len(alphas))]
            for cell_type, edges in zip(names, alphas):
                for e, row in enumerate(edges):
                    tracker.scalars(f"alphas/{cell_type}/edge{e}", dict(zip(ops, row)), step)
        tracker.flush()

    return log
