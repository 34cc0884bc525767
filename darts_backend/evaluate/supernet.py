"""Supernet evaluator: score any genotype of a supernet's space with inherited weights, no training.

A candidate runs through the trained supernet with only its own ops active
(``network(x, genotype=g)``) on a fixed set of held-out images; its score is the accuracy (%) there,
ties broken by the mean cross-entropy. Batch normalisation uses the statistics of each evaluation
batch (the running statistics of the supernet describe the mixture, not one sub-network); every
BN buffer (running statistics, batch counter) is restored afterwards.

Held-out images: a run that trained on ``limit_train`` images of the train split drew them as the
first ``limit_train`` of a seeded random order (`darts_backend.data.load_dataset`); the evaluator
takes the next ones of that same order, so they were never seen by the supernet's weights or alphas.
A run that used the whole train split has no such images: name another ``split`` explicitly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from darts_backend.data import BatchLoader, ImageSet, load_dataset
from darts_backend.runs.trainer import select_device
from nasspace.space import Genotype

__all__ = ["Screening", "SupernetEvaluator", "load_evaluator", "load_run_network", "held_out_images"]


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
            raise ValueError("the evaluator needs at least one held-out batch")
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


def load_run_network(run_dir: Path, device: torch.device) -> tuple[nn.Module, dict]:
    """The trained supernet of a search run folder (as its last checkpoint left it) and the run's config."""
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise ValueError(f"{run_dir} holds no config.json; give the folder of a darts-backend search run")
    config = json.loads(config_path.read_text())
    from darts_backend.runs.search import METHODS

    if config.get("method") in METHODS:  # nb201, or the shared-mode darts space
        from darts_backend.runs.search import load_search_network

        return load_search_network(run_dir, device)
    if config.get("space") == "darts":  # set-emitting dnad / fx-darts runs
        from darts_backend.runs.set_search import load_search_network as load_darts_network

        return load_darts_network(run_dir, device)
    raise ValueError(f"{run_dir}: no supernet evaluator for a {config.get('method')!r} run on {config.get('space')!r}")


def load_evaluator(run_dir: str | Path, *, images: int = 512, batch_size: int = 256, data: str | None = None,
                   split: str | None = None, device: str = "auto") -> SupernetEvaluator:
    """The evaluator of a finished search run folder (its ``config.json`` and ``checkpoint.pt``).

    Args:
        run_dir: a ``darts-backend search`` output folder.
        images: held-out images to score on.
        batch_size: images per forward pass.
        data: the image source (default: the one the run trained on).
        split: take the images from this split instead of the train images the run did not use.
        device: ``auto`` (CUDA if present), ``cpu`` or ``cuda``.

    Raises:
        ValueError: not a run folder, unknown space, or no held-out images (the run used the whole train
            split and no other ``split`` was named).
    """
    if images < 1 or batch_size < 1:
        raise ValueError(f"images and batch_size must be >= 1, got {images}, {batch_size}")
    run_dir = Path(run_dir)
    dev = select_device(device)
    network, config = load_run_network(run_dir, dev)
    held_out = held_out_images(run_dir, config, images, data=data, split=split)
    loader = BatchLoader(held_out, min(batch_size, len(held_out)), device=dev, augment=False, shuffle=False, drop_last=False)
    return SupernetEvaluator(network, list(loader))


def held_out_images(run_dir: Path, config: dict, count: int, *, data: str | None = None,
                    split: str | None = None) -> ImageSet:
    """Up to `count` images a search run's weights never trained on (or of another `split`, when named).

    Train images after the run's ``limit_train`` subset come first (seen by nothing); a run on the whole
    train split that held out a share for selection (``spos``: ``valid_fraction``) gives that share.

    Raises:
        ValueError: no such images (the run trained its weights on the whole train split).
    """
    source = data or config["data"]
    generator = torch.Generator().manual_seed(int(config["seed"]))
    if split is not None:
        return load_dataset(source, split, limit=count, generator=generator)
    used = config.get("limit_train")
    if used is None:
        if config.get("method") == "spos" and source == config["data"]:
            images = load_dataset(source, "train", generator=generator)  # as run_search draws its split
            return images.split(1 - float(config["valid_fraction"]), generator=generator)[1].limit(
                count, generator=torch.Generator().manual_seed(int(config["seed"])))
        raise ValueError(f"{run_dir} trained on the whole train split of {source}, so none of it is held out; "
                         "name another split (e.g. split='test') to screen on")
    try:
        return load_dataset(source, "train", limit=count, offset=int(used), generator=generator)
    except ValueError as exc:
        if "offset" not in str(exc):
            raise
        raise ValueError(f"{run_dir} trained on all {used} train images of {source}, so none is held out; "
                         "name another split (e.g. split='test') to screen on") from None
