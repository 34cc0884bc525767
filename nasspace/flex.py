"""The flexible DARTS-like space of FX-DARTS and DNAD: one cell per position, any number of inputs per node.

A genotype is a list of cells, one per network position, each ``normal`` or ``reduce``; cells of the
same type may differ. A cell has ``k`` intermediate nodes (``k`` is the length of its node list,
default 4); node ``j`` (numbered ``j + 2``) keeps one or more distinct ``(op, input)`` pairs with
``input < j + 2`` (0 and 1 are the cell inputs ``c_{k-2}``, ``c_{k-1}``). The cell output
concatenates all its intermediate nodes. Ops: the DARTS ops without ``none`` (`FLEX_OPS`); DNAD
searches the subset `DNAD_OPS`.

Canonical string: compact JSON (sorted keys, no spaces) of ``{"cells": [{"nodes": [[[op, input],
...], ...], "type": "normal"}, ...]}``, pairs kept in their given order; ``parse`` is ``json.loads``
plus validation. ``canonical_hash`` ignores the order of pairs within a node and relabellings of a
cell's intermediate nodes (`nasspace.darts.canonical_cell` per cell, positions kept).

A genotype that satisfies the DARTS rules (4 nodes, 2 pairs with distinct inputs per node, all
normal cells alike, all reduce cells alike) converts with `FlexSpace.to_darts`; `FlexSpace.from_darts`
spreads a DARTS genotype over a layout.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from nasspace.darts import DARTS_OPS, DARTSGenotype, canonical_cell, cell_graph
from nasspace.errors import GenotypeError
from nasspace.graph import ArchGraph
from nasspace.space import Genotype, SearchSpace, as_rng, register_space

__all__ = [
    "FLEX_OPS",
    "DNAD_OPS",
    "CELL_TYPES",
    "DEFAULT_LAYOUT",
    "FlexCell",
    "FlexGenotype",
    "FlexSpace",
    "reduction_layout",
]

FLEX_OPS: tuple[str, ...] = DARTS_OPS
DNAD_OPS: tuple[str, ...] = ("sep_conv_3x3", "skip_connect", "dil_conv_5x5")
CELL_TYPES: tuple[str, ...] = ("normal", "reduce")

Pair = tuple[str, int]
Node = tuple[Pair, ...]


def reduction_layout(num_cells: int) -> tuple[str, ...]:
    """The DARTS layout of ``num_cells`` cells: reductions at ``num_cells // 3`` and ``2 * num_cells // 3``."""
    if isinstance(num_cells, bool) or not isinstance(num_cells, int) or num_cells < 3:
        raise GenotypeError(f"a DARTS layout has at least 3 cells, got {num_cells!r}")
    reductions = {num_cells // 3, 2 * num_cells // 3}
    return tuple("reduce" if i in reductions else "normal" for i in range(num_cells))


DEFAULT_LAYOUT: tuple[str, ...] = reduction_layout(8)


def _check_pair(pair: Any, where: str, limit: int) -> Pair:
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        raise GenotypeError(f"{where}: expected an [op, input] pair, got {pair!r}")
    op, index = pair
    if op == "none":
        raise GenotypeError(f"{where}: 'none' never appears in a final genotype; valid ops: {', '.join(FLEX_OPS)}")
    if not isinstance(op, str) or op not in FLEX_OPS:
        raise GenotypeError(f"{where}: unknown op {op!r}; valid ops: {', '.join(FLEX_OPS)}")
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)) or not 0 <= index <= limit:
        raise GenotypeError(f"{where}: input must be an integer 0..{limit}, got {index!r}")
    return (op, int(index))


@dataclass(frozen=True)
class FlexCell:
    """One cell of a flex genotype.

    Attributes:
        cell_type: ``"normal"`` or ``"reduce"``.
        nodes: ``(k,)`` per intermediate node, its distinct ``(op, input)`` pairs (at least one).
    """

    cell_type: str
    nodes: tuple[Node, ...]

    def __post_init__(self) -> None:
        if self.cell_type not in CELL_TYPES:
            raise GenotypeError(f"unknown cell type {self.cell_type!r}; valid: {', '.join(CELL_TYPES)}")
        if not isinstance(self.nodes, (list, tuple)) or not self.nodes:
            raise GenotypeError("a flex cell has a non-empty list of nodes")
        nodes = []
        for j, pairs in enumerate(self.nodes):
            where = f"{self.cell_type} cell node {j + 2}"
            if not isinstance(pairs, (list, tuple)) or not pairs:
                raise GenotypeError(f"{where}: expected a non-empty list of [op, input] pairs, got {pairs!r}")
            node = tuple(_check_pair(p, f"{where} pair {m}", j + 1) for m, p in enumerate(pairs))
            if len(set(node)) != len(node):
                raise GenotypeError(f"{where}: repeated (op, input) pair in {list(node)}")
            nodes.append(node)
        object.__setattr__(self, "nodes", tuple(nodes))

    @property
    def k(self) -> int:
        """Number of intermediate nodes."""
        return len(self.nodes)

    def to_fields(self) -> dict[str, Any]:
        return {"nodes": [[[op, i] for op, i in node] for node in self.nodes], "type": self.cell_type}


@dataclass(frozen=True)
class FlexGenotype(Genotype):
    """One flex genotype.

    Attributes:
        cells: ``(num_cells,)`` the cell at each network position.
    """

    cells: tuple[FlexCell, ...]
    space_name: ClassVar[str] = "flex"

    def __post_init__(self) -> None:
        if not isinstance(self.cells, (list, tuple)) or not self.cells:
            raise GenotypeError("a flex genotype has a non-empty list of cells")
        for position, cell in enumerate(self.cells):
            if not isinstance(cell, FlexCell):
                raise GenotypeError(f"cell {position} must be a FlexCell, got {type(cell).__name__}")
        object.__setattr__(self, "cells", tuple(self.cells))

    def __str__(self) -> str:
        return json.dumps(self.fields(), sort_keys=True, separators=(",", ":"))

    def fields(self) -> dict[str, Any]:
        return {"cells": [cell.to_fields() for cell in self.cells]}

    @property
    def layout(self) -> tuple[str, ...]:
        """``(num_cells,)`` the type of each cell."""
        return tuple(cell.cell_type for cell in self.cells)


@register_space("flex")
class FlexSpace(SearchSpace):
    """Per-position DARTS-like cells with any number of (op, input) pairs per node."""

    name: ClassVar[str] = "flex"
    ops: ClassVar[tuple[str, ...]] = FLEX_OPS
    graph_vocabulary: ClassVar[tuple[str, ...]] = (
        "stem",
        "normal_in0",
        "normal_in1",
        "normal_out",
        "reduce_in0",
        "reduce_in1",
        "reduce_out",
        *FLEX_OPS,
        "add",
        "output",
    )

    def parse(self, text: str) -> FlexGenotype:
        """Read the canonical JSON (any JSON spelling of the same structure is accepted)."""
        if not isinstance(text, str):
            raise GenotypeError(f"a flex genotype string must be str, got {type(text).__name__}")
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise GenotypeError(f"a flex genotype string is JSON like {{\"cells\": [...]}}; {exc}") from None
        if not isinstance(data, Mapping):
            raise GenotypeError("a flex genotype string is a JSON object with 'cells'")
        return self.from_fields(data)

    def from_fields(self, fields: Mapping[str, Any]) -> FlexGenotype:
        cells = fields.get("cells")
        if not isinstance(cells, list) or not cells:
            raise GenotypeError('flex fields need "cells": a non-empty list of {"type", "nodes"} objects')
        built = []
        for position, cell in enumerate(cells):
            if not isinstance(cell, Mapping) or "type" not in cell or "nodes" not in cell:
                raise GenotypeError(f'cell {position} must be an object with "type" and "nodes"')
            if not isinstance(cell["type"], str):
                raise GenotypeError(f"cell {position}: type must be one of {', '.join(CELL_TYPES)}")
            built.append(FlexCell(cell["type"], cell["nodes"]))
        return FlexGenotype(tuple(built))

    # -- DARTS conversion ----------------------------------------------------------------------------
    def to_darts(self, genotype: Genotype) -> DARTSGenotype:
        """The DARTS genotype this one spells out on a layout.

        Raises:
            GenotypeError: naming the DARTS rule that fails (4 nodes per cell; exactly 2 pairs per
                node with distinct inputs; all normal cells alike and all reduce cells alike, up
                to the order of pairs within a node; at least one cell of each type).
        """
        g = _check(genotype)
        chosen: dict[str, FlexCell] = {}
        for position, cell in enumerate(g.cells):
            if cell.k != 4:
                raise GenotypeError(f"not a DARTS genotype: cell {position} has {cell.k} nodes, DARTS cells have 4")
            for j, node in enumerate(cell.nodes):
                if len(node) != 2:
                    raise GenotypeError(
                        f"not a DARTS genotype: cell {position} node {j + 2} keeps {len(node)} pairs, DARTS keeps 2"
                    )
                if node[0][1] == node[1][1]:
                    raise GenotypeError(
                        f"not a DARTS genotype: cell {position} node {j + 2} reads input {node[0][1]} twice"
                    )
            first = chosen.setdefault(cell.cell_type, cell)
            if _sorted_nodes(first) != _sorted_nodes(cell):
                raise GenotypeError(
                    f"not a DARTS genotype: {cell.cell_type} cell {position} differs from the first "
                    f"{cell.cell_type} cell; DARTS shares one cell per type"
                )
        for cell_type in CELL_TYPES:
            if cell_type not in chosen:
                raise GenotypeError(f"not a DARTS genotype: the layout has no {cell_type} cell")
        normal, reduce = (tuple(p for node in chosen[t].nodes for p in node) for t in CELL_TYPES)
        return DARTSGenotype(normal, reduce)

    def from_darts(self, genotype: Genotype, layout: Sequence[str] | None = None) -> FlexGenotype:
        """A DARTS genotype's cells placed on ``layout`` (default `DEFAULT_LAYOUT`: 8 cells, reductions at 2 and 5)."""
        if not isinstance(genotype, DARTSGenotype):
            raise GenotypeError(f"expected a darts genotype, got {type(genotype).__name__}")
        layout = DEFAULT_LAYOUT if layout is None else tuple(layout)
        cells = []
        for cell_type in layout:
            if cell_type not in CELL_TYPES:
                raise GenotypeError(f"unknown cell type {cell_type!r} in the layout; valid: {', '.join(CELL_TYPES)}")
            cells.append(FlexCell(cell_type, tuple(tuple(node) for node in genotype.nodes(cell_type))))
        return FlexGenotype(tuple(cells))

    # -- structure ------------------------------------------------------------------------------------
    def to_graph(self, genotype: Genotype) -> ArchGraph:
        """The whole network as one DAG: ``stem``, the cells wired as in DARTS, ``output``.

        Cell ``i`` is `nasspace.darts.cell_graph` of its nodes; its ``<type>_in0`` reads the output
        of cell ``i - 2`` and its ``<type>_in1`` that of cell ``i - 1`` (the stem stands in before
        cell 0); the last cell's output feeds ``output``.
        """
        g = _check(genotype)
        ops, edges = ["stem"], []
        outputs = [0, 0]  # graph node of the outputs of cells i-2 and i-1
        for cell in g.cells:
            offset = len(ops)
            cell_ops, cell_edges = cell_graph(cell.nodes, cell.cell_type)
            ops.extend(cell_ops)
            edges.extend((s + offset, d + offset) for s, d in cell_edges)
            edges.extend([(outputs[0], offset), (outputs[1], offset + 1)])
            outputs = [outputs[1], len(ops) - 1]
        ops.append("output")
        edges.append((outputs[1], len(ops) - 1))
        return ArchGraph(tuple(ops), tuple(sorted(edges)), self.graph_vocabulary)

    def canonical_hash(self, genotype: Genotype) -> str:
        """md5 over positions of (cell type, `canonical_cell`): blind to pair order and node relabelling."""
        g = _check(genotype)
        key = repr(("flex", tuple((cell.cell_type, canonical_cell(cell.nodes)) for cell in g.cells)))
        return hashlib.md5(key.encode()).hexdigest()

    # -- sampling and neighbourhoods ------------------------------------------------------------------
    def sample(
        self,
        rng: int | np.random.Generator | None = None,
        *,
        layout: Sequence[str] = DEFAULT_LAYOUT,
        k: int = 4,
        max_pairs: int = 3,
        ops: Sequence[str] = FLEX_OPS,
    ) -> FlexGenotype:
        """A random genotype: per cell of ``layout`` and per node, a uniform number ``1..max_pairs``
        of distinct pairs drawn uniformly from ``ops`` x the node's inputs.

        Args:
            rng: seed or generator.
            layout: ``(num_cells,)`` cell types.
            k: intermediate nodes per cell.
            max_pairs: most pairs a node keeps (capped by the number of candidates).
            ops: the op vocabulary to draw from (e.g. `DNAD_OPS`), a subset of `FLEX_OPS`.
        """
        gen = as_rng(rng)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise GenotypeError(f"k must be a positive integer, got {k!r}")
        if isinstance(max_pairs, bool) or not isinstance(max_pairs, int) or max_pairs < 1:
            raise GenotypeError(f"max_pairs must be a positive integer, got {max_pairs!r}")
        ops = tuple(ops)
        if not ops or any(op not in FLEX_OPS for op in ops):
            raise GenotypeError(f"ops must be a non-empty subset of {', '.join(FLEX_OPS)}, got {list(ops)}")
        cells = []
        for cell_type in layout:
            nodes = []
            for j in range(k):
                candidates = [(op, i) for i in range(j + 2) for op in ops]
                count = int(gen.integers(1, min(max_pairs, len(candidates)) + 1))
                picks = sorted(int(c) for c in gen.choice(len(candidates), size=count, replace=False))
                nodes.append(tuple(candidates[c] for c in picks))
            cells.append(FlexCell(cell_type, tuple(nodes)))
        return FlexGenotype(tuple(cells))

    def neighbors(self, genotype: Genotype) -> list[FlexGenotype]:
        """Genotypes one edit away, in a fixed order: per cell and node, add one new pair, remove one
        pair (nodes keep at least one), or change the op of one pair (to an op not already paired
        with that input)."""
        g = _check(genotype)
        result = []
        for position, cell in enumerate(g.cells):
            for j, node in enumerate(cell.nodes):
                options: list[Node] = []
                options += [node + ((op, i),) for i in range(j + 2) for op in FLEX_OPS if (op, i) not in node]
                if len(node) > 1:
                    options += [node[:m] + node[m + 1 :] for m in range(len(node))]
                for m, (op, i) in enumerate(node):
                    options += [node[:m] + ((new, i),) + node[m + 1 :] for new in FLEX_OPS if (new, i) not in node]
                for new_node in options:
                    nodes = cell.nodes[:j] + (new_node,) + cell.nodes[j + 1 :]
                    cells = g.cells[:position] + (FlexCell(cell.cell_type, nodes),) + g.cells[position + 1 :]
                    result.append(FlexGenotype(cells))
        return result


def _sorted_nodes(cell: FlexCell) -> tuple[Node, ...]:
    return tuple(tuple(sorted(node)) for node in cell.nodes)


def _check(genotype: Genotype) -> FlexGenotype:
    if not isinstance(genotype, FlexGenotype):
        raise GenotypeError(f"expected a flex genotype, got {type(genotype).__name__}")
    return genotype
