"""Single-DARTS: weights and alphas updated together from one batch with one loss (single level)."""

from __future__ import annotations

import torch

from darts_backend.searchers.base import Batch, Searcher, register_searcher

__all__ = ["SingleDartsSearcher"]


@register_searcher("single-darts")
class SingleDartsSearcher(Searcher):
    """Single-level DARTS: one forward/backward on the training batch feeds both optimizers."""

    needs_valid = False

    def train_step(self, train_batch: Batch, valid_batch: Batch | None = None) -> dict[str, torch.Tensor]:
        """One single-level step.

        Args:
            train_batch: ``(x (B, 3, H, W), y (B,))`` used for both the weight and the alpha update.
            valid_batch: ignored (accepted for the common contract).
        """
        self._zero_grad()
        loss, acc = self._loss(train_batch)
        loss.backward()
        self._clip_weights()
        self.w_optimizer.step()
        self.a_optimizer.step()
        return {"loss": loss.detach(), "acc": acc}
