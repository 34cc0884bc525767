"""The supernet oracle: a supernet's held-out accuracy with inherited weights as the search metric
(spaces without a table, e.g. DARTS; ``crlso search --supernet``). Imports `darts_backend` lazily."""

from __future__ import annotations

from pathlib import Path

from nasspace.oracle import Oracle

__all__ = ["supernet_oracle"]


def supernet_oracle(run_dir: str | Path, *, budget: int, metric: str = "supernet_acc", images: int = 512) -> Oracle:
    """An `Oracle` whose search metric is a supernet's held-out accuracy (%) with inherited weights.

    For spaces without a table (DARTS): each distinct genotype costs one query of the budget, like a
    table lookup; the held-out images are train images the supernet never saw (`load_evaluator`).
    """
    from darts_backend.runs.evaluators import load_evaluator

    evaluator = load_evaluator(run_dir, images=images)
    return Oracle(lambda genotype: evaluator.score([genotype])[0], budget=budget, metric=metric)
