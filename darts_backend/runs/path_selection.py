"""The end of an SPOS run: choose the cell to return from sampled cells scored through the trained weights.

RSPS on NB201 (NATS-Bench ``search-cell.py --algo random``) returns the best of 100 uniformly sampled
cells by their accuracy with inherited weights; SPOS re-estimates BN statistics for each candidate
first. Here: ``candidates`` distinct uniform cells (a generator seeded by the run's seed, apart from
the training sampler), each scored by `SinglePathEvaluator` on the run's held-out share of its
training images (``valid_fraction``: never trained on): ``calibration`` of them re-estimate BN, the
next ``images`` score. Ranked by accuracy, then lower loss; the first is the run's genotype.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from darts_backend.data import BatchLoader, ImageSet
from darts_backend.evaluate.single_path import SinglePathEvaluator
from darts_backend.evaluate.supernet import Screening
from darts_backend.searchers.spos import SposSearcher
from darts_backend.errors import ConfigError

__all__ = ["Selection", "select_path"]


@dataclass(frozen=True)
class Selection:
    """The ranked candidates (best first) and what scoring them took."""

    ranked: list[Screening]
    calibration_images: int
    images: int
    seconds: float

    def to_json(self) -> dict:
        return {"calibration_images": self.calibration_images, "images": self.images, "seconds": round(self.seconds, 2),
                "ranked": [{"genotype": str(s.genotype), "accuracy": s.accuracy, "loss": s.loss} for s in self.ranked]}


def select_path(searcher: SposSearcher, held_out: ImageSet, *, candidates: int, calibration: int, images: int,
                seed: int, batch_size: int = 256) -> Selection:
    """Score ``candidates`` sampled cells on `held_out` and rank them.

    Args:
        searcher: the trained SPOS searcher (its network on its device).
        held_out: images the weights never trained on; split in a seeded order into calibration and scoring.
        candidates: distinct cells to sample (fewer only if the space is smaller).
        calibration: images for BN re-estimation (at most half of `held_out`).
        images: scoring images (at most what is left).
        seed: seeds the candidates and the image order.

    Raises:
        ValueError: `held_out` has fewer than 2 images, or a count below 1.
    """
    if candidates < 1 or calibration < 1 or images < 1:
        raise ConfigError(f"candidates, calibration and images must be >= 1, got {candidates}, {calibration}, {images}")
    if len(held_out) < 2:
        raise ConfigError(f"path selection needs at least 2 held-out images, got {len(held_out)}")
    start = time.perf_counter()
    rng = np.random.default_rng([seed, 1])  # apart from the training sampler's stream
    cells: dict[str, object] = {}
    for _ in range(50 * candidates):
        if len(cells) == candidates:
            break
        cell = searcher.space.sample(rng)
        cells.setdefault(str(cell), cell)
    order = torch.randperm(len(held_out), generator=torch.Generator().manual_seed(seed))
    n_cal = min(calibration, len(held_out) // 2)
    n_img = min(images, len(held_out) - n_cal)
    device = searcher.network.alphas.device

    def batches(part: ImageSet) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return list(BatchLoader(part, min(batch_size, len(part)), device=device, augment=False, shuffle=False, drop_last=False))

    evaluator = SinglePathEvaluator(searcher.network, batches(held_out.subset(order[n_cal:n_cal + n_img].sort().values)),
                                    batches(held_out.subset(order[:n_cal].sort().values)))
    scored = evaluator.evaluate(list(cells.values()))  # type: ignore[arg-type]
    ranked = sorted(scored, key=lambda s: (-s.accuracy, s.loss, str(s.genotype)))
    return Selection(ranked, n_cal, n_img, time.perf_counter() - start)
