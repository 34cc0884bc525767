"""The setting zero-cost proxies are computed under, and the scorer of one cell.

Deterministic by construction: a cell's network is built and initialised from ``seed`` alone
(Kaiming-uniform weights, the PyTorch default, drawn from a seeded generator; the global RNG is left
alone), the images are one fixed batch (``batch_size`` images of ``split`` drawn by ``seed``) and the
loss targets are drawn at random from ``seed`` too. The images' labels are dropped as soon as the
batch is loaded, so no proxy can read one.

`ZeroCostScorer.settings` is everything a proxy's value depends on (space, network size, and for
weight- or image-dependent proxies the seed, the batch and its digest); `darts_backend.evaluate.proxy_cache`
keys its files on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from darts_backend.data import CIFAR10_MEAN, CIFAR10_STD, load_dataset
from darts_backend.evaluate.proxies import ProxyInputs, get_proxy
from darts_backend.ops import reset_weights_
from nasspace.space import Genotype
from darts_backend.errors import ConfigError
from darts_backend.spaces import backend_space, list_backend_spaces

__all__ = ["ZeroCostConfig", "ZeroCostScorer", "build_network", "load_proxy_images"]

# space -> (default cells, FLOP convention); nb201 cells are per stage, darts cells in all
SETTINGS_VERSION = 1  # bump when a proxy's definition changes, so old cache files are not reused


@dataclass(frozen=True)
class ZeroCostConfig:
    """The setting of a zero-cost pass.

    Attributes:
        space: ``nb201`` or ``darts``.
        data: image source for `darts_backend.data.load_dataset` (CIFAR-10 archive, image tar/folder, ``synthetic``).
        split: the split the batch is drawn from.
        batch_size: images in the fixed batch.
        seed: seeds the batch, the random targets and every network's initialisation.
        channels: network C.
        cells: nb201: cells per stage (default 5, the NB201 network); darts: cells in all (default 8).
        num_classes: classifier outputs (and range of the random targets).
        synthetic_size: image side for ``data="synthetic"``.
    """

    space: str = "nb201"
    data: str = "synthetic"
    split: str = "train"
    batch_size: int = 64
    seed: int = 0
    channels: int = 16
    cells: int | None = None
    num_classes: int = 10
    synthetic_size: int = 32

    def __post_init__(self) -> None:
        if self.space not in list_backend_spaces():
            raise ConfigError(f"no zero-cost proxies for space {self.space!r}; valid spaces: {', '.join(list_backend_spaces())}")
        for name in ("channels", "num_classes", "synthetic_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ConfigError(f"batch_size must be >= 2 (jacov correlates images), got {self.batch_size}")
        if self.cells is not None and self.cells < 1:
            raise ConfigError(f"cells must be >= 1, got {self.cells}")

    @property
    def network_cells(self) -> int:
        return self.cells if self.cells is not None else backend_space(self.space).zero_cost_cells


def build_network(config: ZeroCostConfig, genotype: Genotype) -> nn.Module:
    """The discrete network of `genotype`, initialised from ``config.seed`` (train mode, CPU).

    Raises:
        ValueError: the genotype is not of ``config.space``.
    """
    space = backend_space(config.space)
    if genotype.space_name not in space.genotypes:
        raise ConfigError(f"a {genotype.space_name} genotype cannot be scored in the {config.space} space")
    with torch.random.fork_rng(devices=[]):  # construction draws a default init; keep the caller's RNG as it was
        net: nn.Module = space.network(genotype, channels=config.channels, cells=config.network_cells,
                                       num_classes=config.num_classes)
    reset_weights_(net, torch.Generator().manual_seed(config.seed))
    return net.train()


def load_proxy_images(config: ZeroCostConfig) -> torch.Tensor:
    """The fixed batch: ``(batch_size, 3, H, W)`` uint8 images of ``config.split``, labels dropped.

    Raises:
        ValueError: the source cannot be read or holds fewer images than ``batch_size``.
    """
    data = load_dataset(config.data, config.split, limit=config.batch_size,
                        generator=torch.Generator().manual_seed(config.seed), synthetic_size=config.synthetic_size)
    if len(data) < config.batch_size:
        raise ConfigError(f"{config.data} split {config.split!r} holds {len(data)} images, fewer than batch_size {config.batch_size}")
    return data.images.clone()


class ZeroCostScorer:
    """Scores cells of one space with the registered proxies.

    Args:
        config: the setting.
        images: ``(B, 3, H, W)`` uint8, the fixed batch (`load_proxy_images`); ``B = config.batch_size``.
    """

    def __init__(self, config: ZeroCostConfig, images: torch.Tensor):
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ConfigError(f"images must be uint8 (B, 3, H, W), got {images.dtype} {tuple(images.shape)}")
        if len(images) != config.batch_size:
            raise ConfigError(f"expected {config.batch_size} images (batch_size), got {len(images)}")
        self.config = config
        self.images_digest = hashlib.sha256(images.contiguous().numpy().tobytes()).hexdigest()[:16]
        mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
        targets = torch.randint(0, config.num_classes, (len(images),),
                                generator=torch.Generator().manual_seed(config.seed + 1))
        self.inputs = ProxyInputs(images=(images.float() / 255.0 - mean) / std, targets=targets,
                                  flop_convention=backend_space(config.space).flop_convention)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.inputs.images.shape[1:])  # type: ignore[return-value]

    def settings(self, proxy: str) -> dict[str, Any]:
        """Everything `proxy`'s value depends on (the cache key), as plain JSON data."""
        spec = get_proxy(proxy)
        config = self.config
        out: dict[str, Any] = {"version": SETTINGS_VERSION, "space": config.space, "proxy": proxy,
                               "channels": config.channels, "cells": config.network_cells,
                               "num_classes": config.num_classes, "image_shape": list(self.image_shape)}
        if proxy == "flops":
            out["flop_convention"] = self.inputs.flop_convention
        if spec.uses_weights:
            out["seed"] = config.seed
        if spec.uses_images:
            out.update(data=config.data, split=config.split, batch_size=config.batch_size,
                       images_digest=self.images_digest, target_seed=config.seed + 1)
        return out

    def score(self, genotype: Genotype, proxy: str) -> float:
        """`proxy` of `genotype`'s network, freshly built and initialised (so the order of calls is irrelevant)."""
        spec = get_proxy(proxy)
        return float(spec.compute(build_network(self.config, genotype), self.inputs))

    def describe(self) -> dict[str, Any]:
        """The config and the batch digest (for result files)."""
        return {**asdict(self.config), "cells": self.config.network_cells, "images_digest": self.images_digest}
