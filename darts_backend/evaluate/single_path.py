"""Single-path evaluator: a genotype's accuracy through a supernet's weights, BN re-estimated for its path.

The SPOS way of reading a single-path supernet: for each candidate, the running statistics of every
BatchNorm that keeps them are reset and re-estimated over ``calibration`` images run through that
path alone (train mode, cumulative average over the batches), then the path is scored in eval mode on
other held-out images: accuracy (%), ties broken by the mean cross-entropy. Every BN buffer (running
mean and variance, batch counter), every BN momentum and the network's train/eval mode are restored
afterwards, so evaluating never changes the supernet.

BatchNorms without running statistics always normalise by the current batch; in the NB201 supernet
those are the ones inside the cells (so there only the stem, reduction blocks and last BN are
re-estimated), in the DARTS supernet those after the pools.

All images are train images the run's weights never saw (`darts_backend.runs.evaluators.held_out_images`),
never the test split; the calibration and the scoring images are disjoint.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from darts_backend.evaluate.supernet import Screening, score_path
from nasspace.space import Genotype
from darts_backend.errors import ConfigError

__all__ = ["SinglePathEvaluator"]

Batch = tuple[torch.Tensor, torch.Tensor]


class SinglePathEvaluator:
    """Scores genotypes as single paths of a supernet, BN statistics re-estimated per path.

    Args:
        network: a supernet whose ``forward(x, genotype=g)`` runs only ``g``'s ops.
        batches: scoring ``[(x (B, 3, H, W) normalised float, y (B,) int64)]`` on the network's device.
        calibration: ``[(x, y)]`` images for re-estimating BN statistics (labels unused), disjoint from `batches`.
    """

    def __init__(self, network: nn.Module, batches: Sequence[Batch], calibration: Sequence[Batch]):
        if not batches:
            raise ConfigError("the single-path evaluator needs at least one scoring batch")
        if not calibration:
            raise ConfigError("the single-path evaluator needs at least one calibration batch to re-estimate BN")
        self.network = network
        self.batches = list(batches)
        self.calibration = list(calibration)
        self.evaluated = 0

    @property
    def num_images(self) -> int:
        return sum(len(y) for _, y in self.batches)

    @property
    def num_calibration_images(self) -> int:
        return sum(len(y) for _, y in self.calibration)

    def _norms(self) -> list[nn.modules.batchnorm._BatchNorm]:
        return [m for m in self.network.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]

    @torch.no_grad()
    def evaluate(self, genotypes: Sequence[Genotype]) -> list[Screening]:
        """One `Screening` per genotype, in order; the network is left exactly as it was."""
        norms = self._norms()
        saved = [({name: buf.clone() for name, buf in m.named_buffers(recurse=False)}, m.momentum) for m in norms]
        was_training = self.network.training
        tracked = [m for m in norms if m.track_running_stats]
        try:
            out = []
            for genotype in genotypes:
                self._recalibrate(genotype, tracked)
                self.network.eval()
                out.append(score_path(self.network, genotype, self.batches, self.num_images))
                self.evaluated += 1
            return out
        finally:
            for m, (buffers, momentum) in zip(norms, saved):
                for name, value in buffers.items():
                    getattr(m, name).copy_(value)
                m.momentum = momentum
            self.network.train(was_training)

    def _recalibrate(self, genotype: Genotype, tracked: list[nn.modules.batchnorm._BatchNorm]) -> None:
        """Running statistics of `tracked` = cumulative average over the calibration batches through `genotype`."""
        for m in tracked:
            m.reset_running_stats()
            m.momentum = None  # cumulative moving average: every calibration batch weighs the same
        self.network.train()
        for x, _ in self.calibration:
            self.network(x, genotype=genotype)

    def score(self, genotypes: Sequence[Genotype]) -> list[float]:
        """Held-out accuracy (%) of each genotype's path."""
        return [s.accuracy for s in self.evaluate(genotypes)]
