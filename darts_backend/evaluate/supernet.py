"""Supernet evaluator: score any genotype of a supernet's space with inherited weights, no training.

A candidate runs through the trained supernet with only its own ops active
(``network(x, genotype=g)``) on a fixed set of held-out images; its score is the accuracy (%) there,
ties broken by the mean cross-entropy. Batch normalisation uses the statistics of each evaluation
batch (the running statistics of the supernet describe the mixture, not one sub-network); every
BN buffer (running statistics, batch counter) is restored afterwards.

It takes a network and image batches; `darts_backend.runs.evaluators` builds one from a search run folder,
on held-out images the run never trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nasspace.space import Genotype
from darts_backend.errors import ConfigError

__all__ = ["Screening", "SupernetEvaluator", "score_path"]


@dataclass(frozen=True)
class Screening:
    """What the evaluator measured for one genotype."""

    genotype: Genotype
    accuracy: float  # % correct on the held-out images
    loss: float  # mean cross-entropy there

    @property
    def key(self) -> tuple[float, float]:
        """Sort key, larger is better: accuracy, then lower loss."""
        return self.accuracy, -self.loss


def score_path(network: nn.Module, genotype: Genotype, batches: Sequence, num_images: int) -> Screening:
    """Accuracy (%) and mean loss of ``network``'s path for ``genotype`` over ``batches`` of (images, labels),
    in whatever mode (train: batch statistics; eval: running ones) the caller put it."""
    correct, loss = 0.0, 0.0
    for x, y in batches:
        logits = network(x, genotype=genotype)
        correct += float((logits.argmax(dim=1) == y).sum())
        loss += float(F.cross_entropy(logits.float(), y, reduction="sum"))
    return Screening(genotype, 100.0 * correct / num_images, loss / num_images)


class SupernetEvaluator:
    """Scores genotypes through one supernet's shared weights.

    Args:
        network: a supernet whose ``forward(x, genotype=g)`` runs only ``g``'s ops.
        batches: the held-out ``[(x (B, 3, H, W) normalised float, y (B,) int64)]`` on the network's device.
    """

    def __init__(self, network: nn.Module, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]):
        if not batches:
            raise ConfigError("the evaluator needs at least one held-out batch")
        self.network = network
        self.batches = list(batches)
        self.evaluated = 0  # genotypes scored so far

    @property
    def num_images(self) -> int:
        return sum(len(y) for _, y in self.batches)

    @torch.no_grad()
    def evaluate(self, genotypes: Sequence[Genotype]) -> list[Screening]:
        """One `Screening` per genotype, in order."""
        norms = [m for m in self.network.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        saved = [{name: buf.clone() for name, buf in m.named_buffers(recurse=False)} for m in norms]
        was_training = self.network.training
        self.network.train()  # batch statistics; the running ones are put back below
        try:
            out = []
            for genotype in genotypes:
                out.append(score_path(self.network, genotype, self.batches, self.num_images))
                self.evaluated += 1
            return out
        finally:
            for m, buffers in zip(norms, saved):
                for name, value in buffers.items():
                    getattr(m, name).copy_(value)
            self.network.train(was_training)

    def score(self, genotypes: Sequence[Genotype]) -> list[float]:
        """Held-out accuracy (%) of each genotype with inherited weights."""
        return [s.accuracy for s in self.evaluate(genotypes)]
