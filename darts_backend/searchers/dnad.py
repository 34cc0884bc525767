"""DNAD: super-network progressive shrinking (SNPS) with feature distillation, single level.

Loss per step (after the warm-up): ``(CE + lambda * KD) * (1 + gamma * S) + gamma * mu * S`` with the
sparsity term ``S = sum over alive (input, op) pairs of log(1 + 50 w)`` on the node-normalised weights
``w = ReLU(alpha) / sum ReLU(alpha)`` (network normalisation ``node_relu``). Every check (every
``prune_every`` steps, one host sync) deletes the pairs with ``w < threshold`` for good, then adapts:

* gamma is multiplied by ``gamma_up ** prune_every`` (x1.01 per step) when fewer pairs than the
  target were deleted during the check, else by ``gamma_down ** prune_every`` (x0.99 per step),
  within ``[gamma_min, gamma_max]``. The target (``target_deletions`` pairs per step; None: spread the
  deletions down to one pair per node evenly over the planned shrinking steps) is our choice: the
  paper only says "too few".
* when gamma sits at its cap and nothing was deleted for ``stall_checks`` checks in a row, the
  current genotype is saved as a Pareto point and mu is multiplied by ``mu_factor``.
* the search finishes when S falls below ``s_floor`` (None: 1.05 x the value of one pair per alive
  node, ``n_nodes * log(51)``, the smallest S can be).

Besides the Pareto points, `ShrinkConfig.milestone` adds a snapshot at every 10% drop in parameters
(set 0 to keep DNAD's rule alone), and the warm-up end and the final genotype are recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from darts_backend.searchers.base import register_searcher
from darts_backend.searchers.shrinking import ShrinkConfig, ShrinkingSearcher
from darts_backend.errors import ConfigError

__all__ = ["DNADConfig", "DNADSearcher"]


@dataclass(frozen=True)
class DNADConfig(ShrinkConfig):
    """DNAD settings (defaults from the paper's public code where it has them).

    Attributes:
        Not pinned down by the paper and chosen here: gamma's range (``gamma_init`` 1e-2 up to 1.0,
        so that the automatic deletion target is met within short runs) and the ``mu`` schedule.
        threshold: delete a pair whose node-normalised weight falls below this.
        sparsity_scale: the 50 in ``log(1 + 50 w)``.
        gamma_init, gamma_min, gamma_max: the sparsity coefficient and its bounds.
        gamma_up, gamma_down: per-step growth / decay factors.
        mu_init, mu_factor: the additive sparsity coefficient and its growth at each Pareto point.
        target_deletions: pairs to delete per step before gamma stops growing (None: automatic).
        stall_checks: checks without deletion (gamma capped) before a Pareto point.
        s_floor: stop below this S (None: automatic, see the module docstring).
    """

    threshold: float = 0.01
    sparsity_scale: float = 50.0
    gamma_init: float = 1e-2
    gamma_min: float = 1e-4
    gamma_max: float = 1.0
    gamma_up: float = 1.01
    gamma_down: float = 0.99
    mu_init: float = 1.0
    mu_factor: float = 2.0
    target_deletions: float | None = None
    stall_checks: int = 5
    s_floor: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.gamma_min <= self.gamma_init <= self.gamma_max:
            raise ConfigError("need 0 < gamma_min <= gamma_init <= gamma_max")
        if self.threshold <= 0 or self.sparsity_scale <= 0 or self.mu_init < 0 or self.mu_factor < 1:
            raise ConfigError("threshold and sparsity_scale must be > 0, mu_init >= 0, mu_factor >= 1")


@register_searcher("dnad")
class DNADSearcher(ShrinkingSearcher):
    """DNAD over a ``per_cell`` `DartsSearchNetwork` (use ``normalization="node_relu"``, ops `DNAD_OPS`)."""

    config_class = DNADConfig
    config: DNADConfig

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.gamma, self.mu = self.config.gamma_init, self.config.mu_init
        self.stall = 0
        self.target_per_check = float(self.config.prune_every)

    def regularizer(self, weights: torch.Tensor) -> torch.Tensor:
        """``S = sum log(1 + 50 w)`` over alive pairs of ``(G, E, O)`` weights."""
        return (torch.log1p(self.config.sparsity_scale * weights) * self.network.alive).sum()

    def combine(self, task: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
        return task * (1 + self.gamma * reg) + self.gamma * self.mu * reg

    def deletion_mask(self, weights: torch.Tensor) -> torch.Tensor:
        return weights < self.config.threshold

    def on_shrink_start(self) -> None:
        cfg = self.config
        if cfg.target_deletions is not None:
            self.target_per_check = cfg.target_deletions * cfg.prune_every
            return
        planned = self.steps_per_epoch * max(cfg.epochs - cfg.warmup_epochs, 1)
        surplus = self.network.num_alive_pairs() - self._alive_nodes()
        self.target_per_check = surplus * cfg.prune_every / planned if planned else 1.0

    def _alive_nodes(self) -> int:
        return sum(sum(self.network.alive_nodes(g)) for g in range(self.network.alphas.shape[0]))

    def adapt(self, deleted: int, reg: float) -> str | None:
        cfg = self.config
        if deleted < self.target_per_check:
            self.gamma = min(self.gamma * cfg.gamma_up ** cfg.prune_every, cfg.gamma_max)
        else:
            self.gamma = max(self.gamma * cfg.gamma_down ** cfg.prune_every, cfg.gamma_min)
        self.stall = self.stall + 1 if self.gamma >= cfg.gamma_max and deleted == 0 else 0
        reason = None
        if self.stall >= cfg.stall_checks:
            self.mu *= cfg.mu_factor
            self.stall = 0
            reason = "pareto"
        floor = cfg.s_floor if cfg.s_floor is not None else 1.05 * self._alive_nodes() * math.log1p(cfg.sparsity_scale)
        if reg < floor:
            self.finished = True
            reason = reason or "floor"
        return reason

    def extra_metrics(self, device: torch.device) -> dict[str, torch.Tensor]:
        return {"gamma": torch.full((), self.gamma, device=device), "mu": torch.full((), self.mu, device=device)}

    def extra_state(self) -> dict[str, Any]:
        return {"gamma": self.gamma, "mu": self.mu, "stall": self.stall, "target_per_check": self.target_per_check}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.gamma, self.mu = float(state["gamma"]), float(state["mu"])
        self.stall, self.target_per_check = int(state["stall"]), float(state["target_per_check"])
