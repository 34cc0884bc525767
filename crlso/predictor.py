"""A GNN regressor for architectures, used for pseudo-labels in semi-supervised training."""

from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.data import Batch

from crlso.encoder import GNNBody

__all__ = ["GNNPredictor"]


class GNNPredictor(nn.Module):
    """GNN body, then an MLP head to one scalar per graph.

    Args:
        body: message passing + readout.
        hidden: width of the head.
    """

    def __init__(self, body: GNNBody, *, hidden: int = 64):
        super().__init__()
        self.body = body
        self.head = nn.Sequential(nn.Linear(body.out_dim, hidden), nn.LeakyReLU(0.1), nn.Linear(hidden, 1))

    def forward(self, batch: Batch) -> Tensor:
        """``(num_graphs,)`` predicted target of each graph."""
        return self.head(self.body(batch)).squeeze(-1)
