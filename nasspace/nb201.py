"""NAS-Bench-201: a 4-node cell whose 6 edges each carry one of 5 operations (15,625 cells).

Canonical string (the benchmark's own): ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, edges in the
order 0->1, 0->2, 1->2, 0->3, 1->3, 2->3 (``op~i`` on the group of node j means edge i->j).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from nasspace.errors import GenotypeError
from nasspace.graph import ArchGraph
from nasspace.space import Genotype, SearchSpace, as_rng, register_space

__all__ = ["NB201_OPS", "NB201_EDGES", "NB201_SIZE", "NB201_NASLIB_OPS", "NB201Genotype", "NB201Space"]

NB201_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NB201_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
NB201_SIZE: int = len(NB201_OPS) ** len(NB201_EDGES)
"""Cells in the space (15,625): a bound for any request of distinct cells."""
# NASLib's op codes for NB201 (zc_nasbench201.json keys), edges in the same order as ours.
NB201_NASLIB_OPS: tuple[str, ...] = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
# NASLib lists the six edges by source node first ((0,1), (0,2), (0,3), (1,2), (1,3), (2,3)); the canonical
# string lists them by target node (`NB201_EDGES`). Entry i: the string position of NASLib's i-th edge.
_NASLIB_EDGE_ORDER: tuple[int, ...] = (0, 1, 3, 2, 4, 5)


@dataclass(frozen=True)
class NB201Genotype(Genotype):
    """One NB201 cell.

    Attributes:
        ops: ``(6,)`` the op of each edge in `NB201_EDGES` order.
    """

    ops: tuple[str, ...]
    space_name: ClassVar[str] = "nb201"

    def __post_init__(self) -> None:
        if not isinstance(self.ops, tuple):
            object.__setattr__(self, "ops", tuple(self.ops))
        if len(self.ops) != len(NB201_EDGES):
            raise GenotypeError(f"an nb201 genotype has {len(NB201_EDGES)} edge ops, got {len(self.ops)}")
        for position, op in enumerate(self.ops):
            if op not in NB201_OPS:
                src, dst = NB201_EDGES[position]
                raise GenotypeError(
                    f"unknown op {op!r} on edge {src}->{dst}; valid ops: {', '.join(NB201_OPS)}"
                )

    def __str__(self) -> str:
        groups = []
        for dst in (1, 2, 3):
            tokens = [f"{op}~{src}" for (src, d), op in zip(NB201_EDGES, self.ops) if d == dst]
            groups.append("|" + "|".join(tokens) + "|")
        return "+".join(groups)

    def fields(self) -> dict[str, Any]:
        return {"ops": list(self.ops)}

    @property
    def op_indices(self) -> tuple[int, ...]:
        """``(6,)`` position of each edge's op in `NB201_OPS`."""
        return tuple(NB201_OPS.index(op) for op in self.ops)


@register_space("nb201")
class NB201Space(SearchSpace):
    """The NAS-Bench-201 cell space."""

    name: ClassVar[str] = "nb201"
    ops: ClassVar[tuple[str, ...]] = NB201_OPS
    edges: ClassVar[tuple[tuple[int, int], ...]] = NB201_EDGES
    num_cells: ClassVar[int] = len(NB201_OPS) ** len(NB201_EDGES)
    graph_vocabulary: ClassVar[tuple[str, ...]] = ("input", *NB201_OPS, "output")

    def parse(self, text: str) -> NB201Genotype:
        if not isinstance(text, str):
            raise GenotypeError(f"an nb201 genotype string must be str, got {type(text).__name__}")
        stripped = text.strip()
        groups = stripped.split("+")
        if len(groups) != 3:
            raise GenotypeError(
                f"an nb201 string has 3 '+'-separated node groups like "
                f"'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|', got {len(groups)} in {text!r}"
            )
        ops: dict[tuple[int, int], str] = {}
        for dst, group in enumerate(groups, start=1):
            if len(group) < 2 or not (group.startswith("|") and group.endswith("|")):
                raise GenotypeError(f"node group {dst} {group!r} must start and end with '|'")
            tokens = group[1:-1].split("|")
            if len(tokens) != dst:
                raise GenotypeError(f"node group {dst} {group!r} must hold {dst} 'op~input' tokens, got {len(tokens)}")
            for expected_src, token in enumerate(tokens):
                op, sep, src_text = token.partition("~")
                if not sep:
                    raise GenotypeError(f"token {token!r} of node group {dst} lacks '~'; expected 'op~{expected_src}'")
                if src_text != str(expected_src):
                    raise GenotypeError(
                        f"token {token!r} of node group {dst} must name input {expected_src}, got {src_text!r}"
                    )
                if op not in NB201_OPS:
                    raise GenotypeError(
                        f"unknown op {op!r} in token {token!r}; valid ops: {', '.join(NB201_OPS)}"
                    )
                ops[(expected_src, dst)] = op
        return NB201Genotype(tuple(ops[edge] for edge in NB201_EDGES))

    def from_fields(self, fields: Mapping[str, Any]) -> NB201Genotype:
        ops = fields.get("ops")
        if not isinstance(ops, (list, tuple)) or not all(isinstance(op, str) for op in ops):
            raise GenotypeError("nb201 fields need 'ops': a list of 6 op names")
        return NB201Genotype(tuple(ops))

    def from_op_indices(self, indices: Sequence[int]) -> NB201Genotype:
        """The genotype whose edge ops are ``NB201_OPS[i]`` for each of the 6 indices."""
        return NB201Genotype(tuple(_lookup(NB201_OPS, i) for i in indices))

    # The row-of-choices view (`nasspace.choice`), which the generic decoder reads: one op index per edge.
    choice_sizes: ClassVar[tuple[int, ...]] = (len(NB201_OPS),) * len(NB201_EDGES)

    def to_choices(self, genotype: Genotype) -> tuple[int, ...]:
        return _check(genotype).op_indices

    def from_choices(self, choices: Sequence[int]) -> NB201Genotype:
        return self.from_op_indices(choices)

    def from_naslib(self, codes: Sequence[int]) -> NB201Genotype:
        """The genotype of NASLib's ``op_indices`` (codes index `NB201_NASLIB_OPS`, edges in NASLib's order)."""
        if len(codes) != len(NB201_EDGES):
            raise GenotypeError(f"a NASLib nb201 key has {len(NB201_EDGES)} op codes, got {len(codes)}")
        ops: list[str] = [""] * len(NB201_EDGES)
        for code, position in zip(codes, _NASLIB_EDGE_ORDER):
            ops[position] = _lookup(NB201_NASLIB_OPS, code)
        return NB201Genotype(tuple(ops))

    def to_naslib(self, genotype: Genotype) -> tuple[int, ...]:
        """NASLib's ``op_indices`` of a cell (the inverse of `from_naslib`), e.g. for its ``set_op_indices``."""
        if not isinstance(genotype, NB201Genotype):
            raise GenotypeError(f"expected an nb201 genotype, got {type(genotype).__name__}")
        return tuple(NB201_NASLIB_OPS.index(genotype.ops[position]) for position in _NASLIB_EDGE_ORDER)

    def to_graph(self, genotype: Genotype) -> ArchGraph:
        """Input node, one node per edge op (6, `none` included), output node: 8 nodes."""
        g = _check(genotype)
        labels = ("input", *g.ops, "output")
        edges: list[tuple[int, int]] = []
        for k, (src, dst) in enumerate(NB201_EDGES):
            node = k + 1
            if src == 0:
                edges.append((0, node))
            else:  # fed by every op that ends in cell node `src`
                edges.extend((j + 1, node) for j, (_, d) in enumerate(NB201_EDGES) if d == src)
            if dst == 3:
                edges.append((node, len(labels) - 1))
        return ArchGraph(labels, tuple(sorted(edges)), self.graph_vocabulary)

    def unique_string(self, genotype: Genotype) -> str:
        """The cell's computation as a sum of op-paths: equal exactly for isomorphic cells.

        `none` edges vanish, `skip_connect` is the identity (so it distributes over sums), and any
        other op applied to a node's sum is one term. The output node's sorted multiset of terms is
        the string; a cell whose output is always zero gives ``"0"``.
        """
        g = _check(genotype)
        terms: list[list[str]] = [["x"], [], [], []]
        for (src, dst), op in zip(NB201_EDGES, g.ops):
            if op == "none" or not terms[src]:
                continue
            if op == "skip_connect":
                terms[dst].extend(terms[src])
            else:
                terms[dst].append(f"({'+'.join(sorted(terms[src]))})@{op}")
        return "+".join(sorted(terms[3])) or "0"

    def official_unique_string(self, genotype: Genotype) -> str:
        """The benchmark's own isomorphism string (the `UniqueString` of nats_bench.csv).

        It splits the space into the 6,466 classes the NAS-Bench-201 paper counts: per node, the
        sorted input terms joined with '+', `none` (or a dead input) written '#', `skip_connect`
        the input's string. It is not invariant under relabelling the two intermediate nodes (for
        2,872 of the 3,125 cells with `none` on edge 1->2 it changes), so `canonical_hash` uses the
        functional `unique_string`, which merges the official classes into 4,930.
        """
        g = _check(genotype)
        nodes = {0: "0"}
        for dst in (1, 2, 3):
            inputs = []
            for (src, d), op in zip(NB201_EDGES, g.ops):
                if d != dst:
                    continue
                if op == "none" or nodes[src] == "#":
                    inputs.append("#")
                elif op == "skip_connect":
                    inputs.append(nodes[src])
                else:
                    inputs.append(f"({nodes[src]})@{op}")
            nodes[dst] = "+".join(sorted(inputs))
        return nodes[3]

    def canonical_hash(self, genotype: Genotype) -> str:
        """md5 of `unique_string`: equal exactly for functionally identical (isomorphic) cells."""
        return hashlib.md5(self.unique_string(genotype).encode()).hexdigest()

    def sample(self, rng: int | np.random.Generator | None = None) -> NB201Genotype:
        draws = as_rng(rng).integers(len(NB201_OPS), size=len(NB201_EDGES))
        return self.from_op_indices([int(i) for i in draws])

    def neighbors(self, genotype: Genotype) -> list[NB201Genotype]:
        """The 24 cells that differ from ``genotype`` on exactly one edge."""
        g = _check(genotype)
        result = []
        for position, current in enumerate(g.ops):
            for op in NB201_OPS:
                if op != current:
                    result.append(NB201Genotype(g.ops[:position] + (op,) + g.ops[position + 1 :]))
        return result

    def enumerate(self) -> Iterator[NB201Genotype]:
        """All 15,625 cells in product order (edge 0->1 slowest, ops in `NB201_OPS` order).

        The benchmark files use another, fixed order (the official index); `NB201Table.genotypes`
        lists the cells in that order and `NB201Table.index_of` maps a cell to its official index.
        """
        for ops in itertools.product(NB201_OPS, repeat=len(NB201_EDGES)):
            yield NB201Genotype(ops)


def _lookup(names: tuple[str, ...], index: Any) -> str:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= int(index) < len(names):
        raise GenotypeError(f"op index {index!r} is out of range 0..{len(names) - 1} ({', '.join(names)})")
    return names[int(index)]


def _check(genotype: Genotype) -> NB201Genotype:
    if not isinstance(genotype, NB201Genotype):
        raise GenotypeError(f"expected an nb201 genotype, got {type(genotype).__name__}")
    return genotype
