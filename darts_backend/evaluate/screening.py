"""The supernet evaluators a search can screen with, chosen by name.

* ``mixture``: `SupernetEvaluator`: the path through the supernet's weights, every BN normalising by
  the evaluation batch (made for mixture-trained supernets: single-darts, darts).
* ``single-path``: `SinglePathEvaluator`: BN statistics re-estimated for each path on held-out train
  images, then scored in eval mode (the SPOS reading, made for ``spos`` supernets).

Both read any ``darts-backend search`` run folder whose supernet runs fixed genotypes.
"""

from __future__ import annotations

from pathlib import Path

from darts_backend.evaluate.single_path import SinglePathEvaluator, load_single_path_evaluator
from darts_backend.evaluate.supernet import SupernetEvaluator, load_evaluator

__all__ = ["SCREENERS", "load_screener"]

SCREENERS = ("mixture", "single-path")


def load_screener(kind: str, run_dir: str | Path, *, images: int = 512, calibration_images: int = 256,
                  split: str | None = None, device: str = "auto") -> SupernetEvaluator | SinglePathEvaluator:
    """The evaluator `kind` of a run folder.

    Args:
        kind: one of `SCREENERS`.
        run_dir: a ``darts-backend search`` output folder.
        images: held-out images to score on.
        calibration_images: ``single-path`` only: held-out images to re-estimate BN statistics on.
        split: ``mixture`` only: score on this split instead of the run's unused train images.
        device: ``auto``, ``cpu`` or ``cuda``.

    Raises:
        ValueError: unknown kind, or a `split` for ``single-path`` (it reads held-out train images only).
    """
    if kind not in SCREENERS:
        raise ValueError(f"unknown screening evaluator {kind!r}; valid: {', '.join(SCREENERS)}")
    if kind == "mixture":
        return load_evaluator(run_dir, images=images, split=split, device=device)
    if split is not None:
        raise ValueError(f"the single-path evaluator reads held-out train images only; got split={split!r}")
    return load_single_path_evaluator(run_dir, images=images, calibration_images=calibration_images, device=device)
