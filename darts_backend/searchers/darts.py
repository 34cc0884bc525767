"""Bi-level DARTS, first order: the baseline that tends to collapse to skip/pool cells."""

from __future__ import annotations

import torch

from darts_backend.searchers.base import Batch, Searcher, register_searcher
from darts_backend.errors import ConfigError

__all__ = ["DartsSearcher"]


@register_searcher("darts")
class DartsSearcher(Searcher):
    """First-order DARTS: an alpha step on the validation batch, then a weight step on the training batch.

    The alpha gradient comes only from the validation loss (weights held fixed, their gradient not even
    computed); the weight step then uses the updated alphas.
    """

    needs_valid = True

    def train_step(self, train_batch: Batch, valid_batch: Batch | None) -> dict[str, torch.Tensor]:
        """One bi-level step.

        Args:
            train_batch: ``(x (B, 3, H, W), y (B,))`` for the weight update.
            valid_batch: ``(x, y)`` for the alpha update (required).

        Raises:
            ValueError: `valid_batch` is None.
        """
        if valid_batch is None:
            raise ConfigError("bi-level DARTS needs a validation batch for its alpha step; got None")
        self._zero_grad()
        valid_loss, valid_acc = self._loss(valid_batch)
        valid_loss.backward(inputs=self.network.arch_parameters())
        self.a_optimizer.step()

        loss, acc = self._loss(train_batch)
        loss.backward(inputs=self.network.weight_parameters())
        self._clip_weights()
        self.w_optimizer.step()
        return {"loss": loss.detach(), "acc": acc, "valid_loss": valid_loss.detach(), "valid_acc": valid_acc}
