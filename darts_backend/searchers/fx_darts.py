"""FX-DARTS: flexible DARTS with entropy-based super-network shrinking (ESS).

No code is public; this is our reading, built on the same ``per_cell`` supernet and shrinking
machinery as DNAD (`darts_backend.searchers.shrinking`). Choices the paper does not pin down, all configurable
in `FXDartsConfig`:

* **Distribution**: per node, a softmax over all its alive (input, op) pairs (network normalisation
  ``node_softmax``; ``node_relu`` also works). Cells do not share alphas; no two-input rule.
* **Regulariser**: the entropy ``H = -sum p log p`` of each alive node's distribution, averaged over
  alive nodes (``entropy_reduction="mean"``, scale-free) or summed (``"sum"``). Loss after the warm-up:
  ``CE + lambda * KD + beta(t) * H``.
* **Schedule**: ``beta(t) = entropy_weight * min(1, t / (entropy_ramp * T))`` with ``t`` steps since the
  warm-up and ``T`` the planned shrinking steps (``entropy_schedule="linear"``), or constant. Both are
  counted from the loader's length (`plan`), so the ramp also holds from step 1 without a warm-up.
* **Deletion**: a pair is deleted when its probability falls below ``threshold / n`` (``n``: alive pairs
  of its node; ``threshold_mode="relative"``, i.e. a fraction of the uniform share) or below
  ``threshold`` (``"absolute"``). Relative deletion never removes a node's last pair, so nodes only
  disappear when every pair of theirs reads a dropped node (cascade).
* **Alphas**: Adam (lr 1e-2, betas (0.5, 0.999), no weight decay); weights: Adam as in DNAD.
* **Output set**: snapshots at every ``milestone`` (10%) drop in parameter count relative to the
  warm-up end, plus the warm-up-end and the final genotype; FLOPs strictly decrease along the set.
* **Stop**: when every alive node keeps ``stop_pairs`` pair(s) (default 1), or at the last epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from darts_backend.searchers.base import register_searcher
from darts_backend.searchers.shrinking import ShrinkConfig, ShrinkingSearcher
from darts_backend.errors import ConfigError

__all__ = ["FXDartsConfig", "FXDartsSearcher"]


@dataclass(frozen=True)
class FXDartsConfig(ShrinkConfig):
    """FX-DARTS settings (see the module docstring for each choice).

    Attributes:
        entropy_weight: final beta.
        entropy_schedule: ``"linear"`` (ramp) or ``"constant"``.
        entropy_ramp: share of the planned shrinking steps over which beta ramps up.
        entropy_reduction: ``"mean"`` or ``"sum"`` over alive nodes.
        threshold_mode: ``"relative"`` or ``"absolute"``.
        threshold: deletion threshold (relative: fraction of ``1/n``).
        stop_pairs: finish when every alive node has at most this many pairs.
    """

    a_optimizer: str = "adam"
    a_lr: float = 1e-2
    a_weight_decay: float = 0.0
    entropy_weight: float = 1.0
    entropy_schedule: str = "linear"
    entropy_ramp: float = 0.5
    entropy_reduction: str = "mean"
    threshold_mode: str = "relative"
    threshold: float = 0.3
    stop_pairs: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, value, valid in (("entropy_schedule", self.entropy_schedule, ("linear", "constant")),
                                   ("entropy_reduction", self.entropy_reduction, ("mean", "sum")),
                                   ("threshold_mode", self.threshold_mode, ("relative", "absolute"))):
            if value not in valid:
                raise ConfigError(f"{name} must be one of {', '.join(valid)}, got {value!r}")
        if self.entropy_weight < 0 or self.threshold <= 0 or not 0 < self.entropy_ramp <= 1 or self.stop_pairs < 1:
            raise ConfigError("need entropy_weight >= 0, threshold > 0, 0 < entropy_ramp <= 1, stop_pairs >= 1")


@register_searcher("fx-darts")
class FXDartsSearcher(ShrinkingSearcher):
    """FX-DARTS over a ``per_cell`` `DartsSearchNetwork` (``normalization="node_softmax"``, ops `FLEX_OPS`)."""

    config_class = FXDartsConfig
    config: FXDartsConfig

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.shrink_start_step = 0
        self.planned_steps = 0

    def beta(self) -> float:
        """The entropy coefficient at the current step."""
        cfg = self.config
        if self.in_warmup:
            return 0.0
        if cfg.entropy_schedule == "constant" or self.planned_steps <= 0:
            return cfg.entropy_weight
        t = self.steps - self.shrink_start_step
        return cfg.entropy_weight * min(1.0, t / (cfg.entropy_ramp * self.planned_steps))

    def regularizer(self, weights: torch.Tensor) -> torch.Tensor:
        """Entropy of each alive node's distribution, averaged (or summed) over alive nodes."""
        total = weights.new_zeros(())
        for w in self.network.node_weights(weights):  # (G, pairs of node i)
            total = total - (w * torch.log(w.clamp_min(1e-12))).sum()  # finite gradient at deleted (0) pairs
        if self.config.entropy_reduction == "mean":
            total = total / max(self._alive_nodes(), 1)
        return total

    def combine(self, task: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
        return task + self.beta() * reg

    def deletion_mask(self, weights: torch.Tensor) -> torch.Tensor:
        if self.config.threshold_mode == "absolute":
            return weights < self.config.threshold
        net, alive = self.network, self.network.alive
        counts = torch.cat([alive[:, net.offsets[i]:net.offsets[i + 1]].sum(dim=(1, 2), keepdim=True)
                            .expand(-1, net.offsets[i + 1] - net.offsets[i], alive.shape[2]) for i in range(net.k)], dim=1)
        return weights * counts.clamp_min(1) < self.config.threshold

    def plan(self, steps_per_epoch: int) -> None:
        """Fix the ramp before the first step: it starts at the warm-up end and spans the planned shrinking steps."""
        super().plan(steps_per_epoch)
        self.shrink_start_step = self.config.warmup_epochs * steps_per_epoch
        self.planned_steps = steps_per_epoch * max(self.config.epochs - self.config.warmup_epochs, 1)

    def on_shrink_start(self) -> None:
        if self.planned_steps == 0:  # a loop that never called `plan`: measure the ramp from here
            self.shrink_start_step = self.steps
            self.planned_steps = self.steps_per_epoch * max(self.config.epochs - self.config.warmup_epochs, 1)

    def _alive_nodes(self) -> int:
        return sum(sum(self.network.alive_nodes(g)) for g in range(self.network.alphas.shape[0]))

    def adapt(self, deleted: int, reg: float) -> str | None:
        plans = [self.network._plans[g] for g in range(self.network.alphas.shape[0])]
        if all(len(pairs) <= self.config.stop_pairs for plan in plans for pairs in plan):
            self.finished = True
            return "decided"
        return None

    def extra_metrics(self, device: torch.device) -> dict[str, torch.Tensor]:
        return {"beta": torch.full((), self.beta(), device=device)}

    def extra_state(self) -> dict[str, Any]:
        return {"shrink_start_step": self.shrink_start_step, "planned_steps": self.planned_steps}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.shrink_start_step, self.planned_steps = int(state["shrink_start_step"]), int(state["planned_steps"])
