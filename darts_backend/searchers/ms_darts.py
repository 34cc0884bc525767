"""MS-DARTS: single-level DARTS on a mean-shift estimate of the gradient around the alphas.

Hsieh et al., "MS-DARTS: Mean-Shift Based Differentiable Architecture Search" (arXiv 2108.09996; IEEE
TAI 2024). The method samples architecture parameters around the current point within a bandwidth
and moves with their mean, which smooths the loss landscape so that the final discretisation loses
less; the bandwidth trades stability (wide) against accuracy (narrow).

What one step does here: draw K perturbations ``u_k ~ U[-h, h]`` of every alpha (independently per
entry, so ``|u_k|_inf <= h``), evaluate the loss at ``alpha + u_k`` on the one training batch, and
average the K gradients. Their mean estimates the gradient of the box-smoothed loss
``E_u L(w, alpha + u)``, the mean-shift direction of a flat kernel of width h. Weights and alphas
then take one step each from that estimate (single level, as Single-DARTS); the alphas themselves
are never left perturbed. With ``h = 0`` and ``K = 1`` the step is exactly Single-DARTS's. Betas
(edge normalization) are not perturbed; they get the averaged gradient.

Differences from the authors' public code (aaron851113/MS-DARTS, built on SDARTS): it perturbs the
softmax weights (``U[-eps, eps]``, clipped) rather than the alphas, weights each sample by a softmax
of its loss times a Gaussian kernel of bandwidth 1, replaces the alphas by that weighted mean (T = 2
iterations) before the weight step, and updates the alphas in a separate bi-level DARTS step. We
follow the gradient-averaging form above (the project's issue 20), which needs no clipping, keeps the
alphas an optimiser variable, and reduces to Single-DARTS exactly.

Defaults (`MSDartsConfig`) and why:

* ``samples = 3``: the public code's ``samplingN = 3``. The step costs about K forward/backward passes.
* ``bandwidth = 1.0`` (in logits): an offset of up to 1 multiplies an op's unnormalised weight
  ``exp(alpha)`` by a factor between 1/e and e; at the uniform start one such offset moves that op's
  probability by up to about ``p (1 - p) = 0.16`` on NB201 (5 ops) and 0.11 in the DARTS space (8 ops)
  (first order), the scale of the public code's ``eps = 0.25`` (and SDARTS's 0.3) in probability space,
  without leaving the simplex.
* ``bandwidth_schedule = "linear"`` from ``bandwidth_start = 0.1`` of h at the first epoch up to h at
  the last: the public code grows its perturbation linearly from a tenth of its maximum over the epochs,
  so the early, weight-dominated epochs are barely perturbed. ``"constant"`` keeps h throughout.
* ``seed``: seeds the perturbations (a run sets it to its own seed), drawn on the alphas' device from
  a generator whose state is checkpointed, so a run reproduces and a resumed run continues identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from darts_backend.searchers.base import Batch, Searcher, SearcherConfig, register_searcher
from darts_backend.errors import ConfigError

__all__ = ["BANDWIDTH_SCHEDULES", "MSDartsConfig", "MSDartsSearcher"]

BANDWIDTH_SCHEDULES = ("linear", "constant")


@dataclass(frozen=True)
class MSDartsConfig(SearcherConfig):
    """MS-DARTS settings beyond `SearcherConfig` (see the module docstring for the defaults' sources).

    Attributes:
        samples: K, perturbed copies of the alphas per step (>= 1).
        bandwidth: h, the largest perturbation of any alpha entry (>= 0; 0 disables perturbation).
        bandwidth_schedule: ``linear`` (from ``bandwidth_start * h`` at epoch 0 to h at the last epoch) or
            ``constant``.
        bandwidth_start: the first epoch's fraction of h under ``linear``, in [0, 1].
        seed: seeds the perturbations.
    """

    samples: int = 3
    bandwidth: float = 1.0
    bandwidth_schedule: str = "linear"
    bandwidth_start: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.samples < 1:
            raise ConfigError(f"samples must be >= 1, got {self.samples}")
        if not self.bandwidth >= 0:
            raise ConfigError(f"bandwidth must be >= 0, got {self.bandwidth}")
        if self.bandwidth_schedule not in BANDWIDTH_SCHEDULES:
            raise ConfigError(f"bandwidth_schedule must be one of {', '.join(BANDWIDTH_SCHEDULES)}, "
                              f"got {self.bandwidth_schedule!r}")
        if not 0 <= self.bandwidth_start <= 1:
            raise ConfigError(f"bandwidth_start must be in [0, 1], got {self.bandwidth_start}")


@register_searcher("ms-darts")
class MSDartsSearcher(Searcher):
    """Single-level steps on the average gradient of K perturbed copies of the alphas."""

    needs_valid = False
    config_class = MSDartsConfig
    config: MSDartsConfig

    def __init__(self, network: Any, config: SearcherConfig = MSDartsConfig()):
        super().__init__(network, config)
        self.generator = torch.Generator(device=network.alphas.device).manual_seed(self.config.seed)

    def bandwidth(self) -> float:
        """h of the current epoch."""
        cfg = self.config
        if cfg.bandwidth_schedule == "constant" or cfg.epochs == 1:
            return cfg.bandwidth
        progress = min(self.epoch, cfg.epochs - 1) / (cfg.epochs - 1)
        return cfg.bandwidth * (cfg.bandwidth_start + (1.0 - cfg.bandwidth_start) * progress)

    def train_step(self, train_batch: Batch, valid_batch: Batch | None = None) -> dict[str, torch.Tensor]:
        """One step from `train_batch` (the valid batch is ignored, as in Single-DARTS).

        Returns:
            ``loss`` and ``acc``: means over the K perturbed evaluations.
        """
        k, h = self.config.samples, self.bandwidth()
        alphas = self.network.alphas
        center = alphas.detach().clone() if h > 0 else None
        self._zero_grad()
        loss_sum = acc_sum = None
        for _ in range(k):
            if center is not None:
                noise = torch.rand(alphas.shape, generator=self.generator, device=alphas.device, dtype=alphas.dtype)
                with torch.no_grad():
                    alphas.copy_(center + (2.0 * noise - 1.0) * h)
            loss, acc = self._loss(train_batch)
            (loss if k == 1 else loss / k).backward()
            loss_sum = loss.detach() if loss_sum is None else loss_sum + loss.detach()
            acc_sum = acc if acc_sum is None else acc_sum + acc
        if center is not None:
            with torch.no_grad():
                alphas.copy_(center)
        self._clip_weights()
        self.w_optimizer.step()
        self.a_optimizer.step()
        assert loss_sum is not None and acc_sum is not None
        return {"loss": loss_sum / k, "acc": acc_sum / k}

    def state_dict(self) -> dict[str, Any]:
        """The common state plus the perturbation generator's."""
        return {**super().state_dict(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a `state_dict` (the generator too, so the perturbations continue identically)."""
        super().load_state_dict(state)
        self.generator.set_state(state["generator"].cpu())
