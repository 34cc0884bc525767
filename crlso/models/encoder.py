"""GNN graph encoders: a message-passing body shared by the VAE encoder and the predictor.

The body is a stack of GINE layers (sum aggregation of ``MLP(x_j + W e_ij)`` messages) with a
linear residual path, followed by a readout over each graph's nodes: their sum, or (``positions``)
a linear map of their concatenation by node position, which keeps which node carries which op; that
matters for large fixed-layout graphs such as the 30-node DARTS genotypes.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch
from torch_geometric.nn import GINEConv, global_add_pool
from crlso.errors import ConfigError

__all__ = ["READOUTS", "GNNBody", "Posterior", "GraphEncoder"]


READOUTS = ("sum", "positions")


class GNNBody(nn.Module):
    """Message passing plus a readout: a batch of graphs -> one vector per graph.

    Args:
        node_dim: width of the input node features.
        edge_dim: width of the edge attributes.
        hidden: width of every hidden layer.
        num_layers: message-passing layers.
        readout: ``sum`` over nodes, or ``positions``: ``Linear(max_nodes * hidden -> hidden)`` of the
            node vectors placed by their index in the graph (zeros where a graph has fewer nodes).
        max_nodes: most nodes of a graph (``positions`` only).
    """

    def __init__(self, *, node_dim: int, edge_dim: int, hidden: int = 64, num_layers: int = 3, readout: str = "sum",
                 max_nodes: int | None = None):
        super().__init__()
        if num_layers < 1:
            raise ConfigError(f"num_layers must be >= 1, got {num_layers}")
        if readout not in READOUTS or (readout == "positions" and not max_nodes):
            raise ConfigError(f"readout must be one of {', '.join(READOUTS)} (positions needs max_nodes), got {readout!r}")
        self.embed = nn.Linear(node_dim, hidden)
        self.convs = nn.ModuleList(
            GINEConv(
                nn.Sequential(nn.Linear(hidden, hidden), nn.LeakyReLU(0.1), nn.Linear(hidden, hidden)),
                edge_dim=edge_dim,
                train_eps=True,
            )
            for _ in range(num_layers)
        )
        self.residuals = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(num_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(num_layers))
        self.readout, self.max_nodes = readout, max_nodes
        if readout == "positions":
            self.project = nn.Linear(max_nodes * hidden, hidden)
        self.out_dim = hidden

    def forward(self, batch: Batch) -> Tensor:
        """``(num_graphs, hidden)`` graph embeddings of a PyG batch."""
        h = self.embed(batch.x)
        for conv, residual, norm in zip(self.convs, self.residuals, self.norms):
            h = norm(nn.functional.leaky_relu(conv(h, batch.edge_index, batch.edge_attr), 0.1) + residual(h))
        index = batch.batch if batch.batch is not None else torch.zeros(h.shape[0], dtype=torch.long, device=h.device)
        if self.readout == "sum":
            return global_add_pool(h, index, size=batch.num_graphs)
        first = torch.zeros(batch.num_graphs, dtype=torch.long, device=h.device)  # index of each graph's first node
        first.scatter_reduce_(0, index, torch.arange(h.shape[0], device=h.device), reduce="amin", include_self=False)
        position = torch.arange(h.shape[0], device=h.device) - first[index]
        dense = h.new_zeros(batch.num_graphs, self.max_nodes, h.shape[1])
        dense[index, position] = h
        return self.project(dense.flatten(1))


class Posterior(NamedTuple):
    """A diagonal Gaussian over latent codes: ``mu`` and ``logvar``, both ``(B, latent_dim)``."""

    mu: Tensor
    logvar: Tensor


class GraphEncoder(nn.Module):
    """The VAE encoder: GNN body, then linear heads for the posterior mean and log-variance.

    Args:
        body: the message-passing body (its ``out_dim`` feeds the heads).
        latent_dim: width of the latent code.
    """

    def __init__(self, body: GNNBody, *, latent_dim: int):
        super().__init__()
        self.body = body
        self.latent_dim = latent_dim
        self.mu = nn.Linear(body.out_dim, latent_dim)
        self.logvar = nn.Linear(body.out_dim, latent_dim)

    def forward(self, batch: Batch) -> Posterior:
        """The posterior of each graph in ``batch``: two ``(num_graphs, latent_dim)`` tensors."""
        h = self.body(batch)
        return Posterior(self.mu(h), self.logvar(h).clamp(-10.0, 10.0))
