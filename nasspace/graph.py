"""`ArchGraph`: a cell as a DAG with operations on nodes, the form graph encoders consume."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from nasspace.errors import OptionError

if TYPE_CHECKING:  # imported where used: networkx takes a third of a second, and most commands never need it
    import networkx as nx

__all__ = ["ArchGraph"]


@dataclass(frozen=True)
class ArchGraph:
    """A directed acyclic graph whose nodes carry operation labels.

    Edge operations of a cell become nodes; the input(s) and the output are explicit nodes.
    Nodes are numbered in a topological order (every edge goes from a lower to a higher index).

    Attributes:
        ops: ``(num_nodes,)`` label of each node, each one of ``vocabulary``.
        edges: ``(num_edges, 2)`` pairs ``(src, dst)`` with ``src < dst``.
        vocabulary: every label a node of this space can carry, in a fixed order, so that
            ``vocabulary.index(label)`` is a stable one-hot position across graphs of the space.
    """

    ops: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    vocabulary: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.ops)
        for label in self.ops:
            if label not in self.vocabulary:
                raise OptionError(f"node label {label!r} is not in the vocabulary {list(self.vocabulary)}")
        for src, dst in self.edges:
            if not (0 <= src < dst < n):
                raise OptionError(f"edge ({src}, {dst}) is not forward between nodes 0..{n - 1}")

    @property
    def num_nodes(self) -> int:
        return len(self.ops)

    def op_indices(self) -> list[int]:
        """``(num_nodes,)`` position of each node's label in ``vocabulary``."""
        return [self.vocabulary.index(label) for label in self.ops]

    def adjacency(self) -> list[list[int]]:
        """``(num_nodes, num_nodes)`` 0/1 matrix with ``A[src][dst] = 1`` for each edge."""
        n = self.num_nodes
        matrix = [[0] * n for _ in range(n)]
        for src, dst in self.edges:
            matrix[src][dst] = 1
        return matrix

    def to_networkx(self) -> nx.DiGraph:
        """The graph as a ``networkx.DiGraph`` whose nodes have an ``op`` attribute."""
        import networkx as nx

        graph = nx.DiGraph()
        for index, label in enumerate(self.ops):
            graph.add_node(index, op=label)
        graph.add_edges_from(self.edges)
        return graph
