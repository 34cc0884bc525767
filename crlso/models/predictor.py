"""A GNN regressor for architectures, used for pseudo-labels in semi-supervised training.

Optionally the head also reads ``extra_dim`` per-graph features beside the GNN readout (zero-cost
proxy scores, `crlso.oracles.zero_cost`): inputs that cost no query, never targets.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch

from crlso.models.encoder import GNNBody
from crlso.errors import ConfigError

__all__ = ["GNNPredictor"]


class GNNPredictor(nn.Module):
    """GNN body, then an MLP head to one scalar per graph.

    Args:
        body: message passing + readout.
        hidden: width of the head.
        extra_dim: per-graph input features the head reads beside the readout (0: none).
    """

    def __init__(self, body: GNNBody, *, hidden: int = 64, extra_dim: int = 0):
        super().__init__()
        self.body = body
        self.extra_dim = extra_dim
        self.head = nn.Sequential(nn.Linear(body.out_dim + extra_dim, hidden), nn.LeakyReLU(0.1), nn.Linear(hidden, 1))

    def forward(self, batch: Batch, extra: Tensor | None = None) -> Tensor:
        """``(num_graphs,)`` predicted target of each graph; ``extra (num_graphs, extra_dim)`` when ``extra_dim > 0``.

        Raises:
            ValueError: ``extra`` missing or of the wrong shape for this predictor.
        """
        readout = self.body(batch)
        if self.extra_dim == 0:
            if extra is not None:
                raise ConfigError("this predictor was built without extra features (extra_dim=0) but was given some")
            return self.head(readout).squeeze(-1)
        if extra is None or tuple(extra.shape) != (readout.shape[0], self.extra_dim):
            got = None if extra is None else tuple(extra.shape)
            raise ConfigError(f"the predictor needs extra features of shape ({readout.shape[0]}, {self.extra_dim}), got {got}")
        return self.head(torch.cat([readout, extra.to(readout)], dim=1)).squeeze(-1)
