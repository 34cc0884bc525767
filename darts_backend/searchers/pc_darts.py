"""PC-DARTS: bi-level first-order DARTS on a supernet with partial channels and edge normalization.

Xu et al., "PC-DARTS: Partial Channel Connections for Memory-Efficient Architecture Search", ICLR
2020 (arXiv 1907.05737), and the authors' public search script (yuhuixu1993/PC-DARTS,
``train_search.py``, ``model_search.py``). What they run on CIFAR-10, and what we take:

* the supernet: partial channels with K = 4 (a fixed first quarter of the channels enters the ops,
  the rest bypasses them, then a channel shuffle) and edge normalization (a softmax over each node's
  incoming edges, multiplied into the edge-selection score at derivation): `network_options`, the
  defaults a run gives the supernet (`darts_backend.supernets.partial`);
* the update: DARTS's alternating first-order step (their ``unrolled`` flag is off by default): an
  alpha and beta step on a batch of the held-out half of the training set, then a weight step on a
  training batch (`DartsSearcher`);
* a warm-up: the architecture is not updated during the first 15 of 50 epochs
  (`PCDartsConfig.arch_warmup_epochs`; 0 unless set, the paper value is in the ``paper`` preset);
* optimisation (the ``paper`` preset, `darts_backend.runs.presets`): batch 256, SGD lr 0.1 momentum
  0.9 (not Nesterov) weight decay 3e-4, cosine to 1e-3, gradient clip 5; alphas and betas Adam 6e-4,
  betas (0.5, 0.999), weight decay 1e-3; C = 16, 8 cells; half/half train/valid split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from darts_backend.searchers.base import Batch, SearcherConfig, register_searcher
from darts_backend.searchers.darts import DartsSearcher
from darts_backend.errors import ConfigError

__all__ = ["PCDartsConfig", "PCDartsSearcher"]


@dataclass(frozen=True)
class PCDartsConfig(SearcherConfig):
    """PC-DARTS settings beyond `SearcherConfig`.

    Attributes:
        arch_warmup_epochs: epochs with weight steps only (the paper: 15 of 50).
    """

    arch_warmup_epochs: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.arch_warmup_epochs < 0:
            raise ConfigError(f"arch_warmup_epochs must be >= 0, got {self.arch_warmup_epochs}")


@register_searcher("pc-darts")
class PCDartsSearcher(DartsSearcher):
    """Bi-level first-order DARTS over a PC supernet, with an architecture warm-up.

    Raises:
        ValueError: the supernet has neither partial channels nor edge normalization (that is plain ``darts``).
    """

    config_class = PCDartsConfig
    config: PCDartsConfig
    network_options = {"partial_channels": 4, "edge_normalization": True}

    @classmethod
    def check_network_options(cls, *, partial_channels: int, edge_normalization: bool) -> None:
        """Refuse a supernet with neither PC-DARTS option."""
        if partial_channels == 1 and not edge_normalization:
            raise ConfigError("pc-darts needs a supernet with partial channels (K > 1) or edge normalization; "
                              "without both it is plain 'darts'")

    def __init__(self, network: Any, config: SearcherConfig = PCDartsConfig()):
        self.check_network_options(partial_channels=getattr(network, "partial_channels", 1),
                                   edge_normalization=getattr(network, "edge_normalization", False))
        super().__init__(network, config)

    def train_step(self, train_batch: Batch, valid_batch: Batch | None) -> dict[str, torch.Tensor]:
        """One bi-level step; during the warm-up only the weight step (the valid batch is not used).

        Args:
            train_batch: ``(x (B, 3, H, W), y (B,))`` for the weight update.
            valid_batch: ``(x, y)`` for the architecture update (required, also during the warm-up).
        """
        if valid_batch is None:
            raise ConfigError("pc-darts needs a validation batch for its architecture step; got None")
        if self.epoch >= self.config.arch_warmup_epochs:
            return super().train_step(train_batch, valid_batch)
        self._zero_grad()
        loss, acc = self._loss(train_batch)
        loss.backward(inputs=self.network.weight_parameters())
        self._clip_weights()
        self.w_optimizer.step()
        return {"loss": loss.detach(), "acc": acc}
