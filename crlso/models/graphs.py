"""`ArchGraph` -> `torch_geometric.data.Data`, and batching of many cells.

Node features are the one-hot of the node's operation label followed by the one-hot of its
position (nodes are numbered topologically, so position tells apart the edges of a cell that share
an operation). Edges are kept in both directions; a 2-d edge attribute says which way
(``[1, 0]`` forward, ``[0, 1]`` backward), so messages can flow from the input to the output
and back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch_geometric.data import Batch, Data

from nasspace import ArchGraph, Genotype, get_space
from crlso.errors import ConfigError

__all__ = ["GraphFeaturizer", "GraphBank", "featurizer_for", "to_data", "batch_genotypes", "all_cells_batch", "slice_batch"]

EDGE_DIM = 2


@dataclass(frozen=True)
class GraphFeaturizer:
    """Turns the `ArchGraph`s of one space into PyG `Data` objects.

    Attributes:
        vocabulary: node labels of the space, in their fixed one-hot order.
        max_nodes: largest node count of a graph in the space (size of the position one-hot).
    """

    vocabulary: tuple[str, ...]
    max_nodes: int

    @property
    def node_dim(self) -> int:
        """Width of a node feature vector: ``len(vocabulary) + max_nodes``."""
        return len(self.vocabulary) + self.max_nodes

    @property
    def edge_dim(self) -> int:
        return EDGE_DIM

    def __call__(self, graph: ArchGraph) -> Data:
        """One graph as ``Data(x (N, node_dim), edge_index (2, 2E), edge_attr (2E, 2))``."""
        if tuple(graph.vocabulary) != self.vocabulary:
            raise ConfigError(f"graph vocabulary {list(graph.vocabulary)} differs from {list(self.vocabulary)}")
        n = graph.num_nodes
        if n > self.max_nodes:
            raise ConfigError(f"graph has {n} nodes, more than max_nodes={self.max_nodes}")
        x = torch.zeros(n, self.node_dim)
        x[torch.arange(n), torch.tensor(graph.op_indices(), dtype=torch.long)] = 1.0
        x[torch.arange(n), len(self.vocabulary) + torch.arange(n)] = 1.0
        forward = torch.tensor(graph.edges, dtype=torch.long).reshape(-1, 2).t()
        edge_index = torch.cat([forward, forward.flip(0)], dim=1)
        num_edges = forward.shape[1]
        edge_attr = torch.zeros(2 * num_edges, EDGE_DIM)
        edge_attr[:num_edges, 0] = 1.0
        edge_attr[num_edges:, 1] = 1.0
        return Data(x=x, edge_index=edge_index, edge_attr=edge_attr, num_nodes=n)


def featurizer_for(space_name: str) -> GraphFeaturizer:
    """The featurizer of a space: its graph vocabulary and its adapter's largest node count.

    Raises:
        ValueError: the space has no adapter; lists the spaces that have one.
    """
    from crlso.models.spaces import get_adapter

    adapter = get_adapter(space_name)
    return GraphFeaturizer(tuple(adapter.space.graph_vocabulary), adapter.max_nodes)  # type: ignore[attr-defined]


def to_data(genotype: Genotype, featurizer: GraphFeaturizer | None = None) -> Data:
    """One genotype as a PyG `Data` (via its space's `to_graph`)."""
    space = genotype.space
    featurizer = featurizer or featurizer_for(space.name)
    return featurizer(space.to_graph(genotype))


def batch_genotypes(genotypes: Sequence[Genotype], featurizer: GraphFeaturizer | None = None) -> Batch:
    """Many genotypes of one space as one disjoint-union `Batch` (``batch`` maps nodes to graphs)."""
    if not genotypes:
        raise ConfigError("cannot batch an empty list of genotypes")
    featurizer = featurizer or featurizer_for(genotypes[0].space.name)
    return Batch.from_data_list([to_data(g, featurizer) for g in genotypes])


def slice_batch(batch: Batch, start: int, stop: int) -> Batch:
    """Graphs ``start..stop-1`` of ``batch`` as a new batch, by slicing its tensors.

    Equal to ``Batch.from_data_list(batch.index_select(range(start, stop)))`` for batches of
    ``x``, ``edge_index`` and ``edge_attr``, without separating every graph (about 100x faster on 4,096 cells).
    """
    ptr = batch.ptr
    low, high = int(ptr[start]), int(ptr[stop])
    keep = (batch.edge_index[0] >= low) & (batch.edge_index[0] < high)  # a graph's edges stay within its nodes
    node_batch = batch.batch[low:high] - start
    return Batch(x=batch.x[low:high], edge_index=batch.edge_index[:, keep] - low, edge_attr=batch.edge_attr[keep],
                 batch=node_batch, ptr=ptr[start:stop + 1] - low, num_nodes=high - low, _num_graphs=stop - start)


@lru_cache(maxsize=2)
def all_cells_batch(space_name: str) -> tuple[tuple[Genotype, ...], Batch]:
    """Every cell of an enumerable space (in ``space.enumerate()`` order) and their batch.

    Built on first use and kept for the life of the process (about 2 s for NB201).
    """
    cells = tuple(get_space(space_name).enumerate())
    return cells, batch_genotypes(cells, featurizer_for(space_name))


class GraphBank:
    """A batch of graphs that can grow: a fixed base `Batch` plus appended `Data` graphs.

    The base batch is shared, never modified (e.g. the cached `all_cells_batch`); appended graphs are
    kept in a list, so adding a few graphs costs no re-collation of the whole set.

    Args:
        base: the first ``len(base)`` graphs.
        featurizer: turns appended genotypes into graphs.
    """

    def __init__(self, base: Batch, featurizer: GraphFeaturizer):
        self.base, self.featurizer = base, featurizer
        self.extra: list[Data] = []

    @property
    def num_graphs(self) -> int:
        return self.base.num_graphs + len(self.extra)

    def __len__(self) -> int:
        return self.num_graphs

    def extend(self, genotypes: Sequence[Genotype]) -> None:
        """Append the graphs of ``genotypes`` (positions ``len(self) ..``)."""
        self.extra.extend(to_data(g, self.featurizer) for g in genotypes)

    def everything(self) -> Batch:
        """Every graph of the bank as one `Batch` (the base itself when nothing was appended)."""
        return self.base if not self.extra else self.select(range(self.num_graphs))

    def select(self, index: torch.Tensor | Sequence[int]) -> Batch:
        """The graphs at ``index (K,)`` as a new `Batch`, in that order.

        Indices within the base give exactly ``Batch.from_data_list(base.index_select(index))``.
        """
        index = torch.as_tensor(index, dtype=torch.long)
        n = self.base.num_graphs
        if index.numel() == 0 or int(index.max()) < n:
            return Batch.from_data_list(self.base.index_select(index))
        return Batch.from_data_list([self.base.get_example(i) if i < n else self.extra[i - n] for i in index.tolist()])
