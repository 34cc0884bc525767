"""The DARTS space (NAS-Bench-301): a normal and a reduction cell, 4 nodes each, 2 inputs per node.

Each cell is 8 ``(op, input)`` pairs; pairs ``2k`` and ``2k + 1`` feed intermediate node ``k + 2``.
Inputs ``0`` and ``1`` are the cell inputs ``c_{k-2}`` and ``c_{k-1}``, input ``j >= 2`` is node ``j``,
and node ``k + 2`` may read inputs ``0 .. k + 1``; its two inputs differ. The cell output concatenates
nodes 2..5. A final genotype never uses ``none`` (a supernet-only candidate).

Canonical string: the DARTS text, exactly as DARTS prints a genotype::

    Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...], normal_concat=[2, 3, 4, 5],
             reduce=[...], reduce_concat=[2, 3, 4, 5])

(on one line), read back by a hand-written tokenizer (never ``eval``) that also takes
``range(2, 6)``, either quote and any whitespace. NASLib's compact encoding
``((input, op_code) x 8, (input, op_code) x 8)`` with op codes indexing `DARTS_NASLIB_OPS` is read by
`DARTSSpace.from_naslib` and written by `DARTSSpace.to_naslib`.

Hash: two cells are isomorphic when they differ only by the order of the two pairs of a node and
a relabelling of the intermediate nodes (the concat then only permutes channels). `canonical_cell`
computes a complete invariant for that relation (the smallest relabelled encoding, searched over the
orders that a colour refinement leaves open), and `DARTSSpace.canonical_hash` is its md5.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

import numpy as np

from nasspace.errors import GenotypeError
from nasspace.graph import ArchGraph
from nasspace.space import Genotype, SearchSpace, as_rng, register_space

__all__ = [
    "DARTS_PRIMITIVES",
    "DARTS_OPS",
    "DARTS_NASLIB_OPS",
    "DARTS_CONCAT",
    "DARTSGenotype",
    "DARTSSpace",
    "canonical_cell",
    "cell_graph",
]

# The candidate ops of the DARTS supernet, in DARTS' own order.
DARTS_PRIMITIVES: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
# The ops a final genotype may use.
DARTS_OPS: tuple[str, ...] = DARTS_PRIMITIVES[1:]
# NASLib's compact op codes (zc_nasbench301.json, archs_nasbench301.json). The parameter counts in
# zc_nasbench301.json are linear in these codes with the sizes of exactly these ops (the two pools,
# both parameter-free, cannot be told apart that way; their order is NASLib's).
DARTS_NASLIB_OPS: tuple[str, ...] = DARTS_OPS
DARTS_CONCAT: tuple[int, ...] = (2, 3, 4, 5)
NUM_NODES = 4

Pair = tuple[str, int]
Cell = tuple[Pair, ...]


def _check_op(op: Any, where: str, valid: Sequence[str]) -> str:
    if op == "none":
        raise GenotypeError(
            f"{where}: 'none' is a supernet candidate and never part of a final genotype; "
            f"valid ops: {', '.join(valid)}"
        )
    if not isinstance(op, str) or op not in valid:
        raise GenotypeError(f"{where}: unknown op {op!r}; valid ops: {', '.join(valid)}")
    return op


def _check_input(value: Any, where: str, limit: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise GenotypeError(f"{where}: input must be an integer 0..{limit}, got {value!r}")
    if not 0 <= int(value) <= limit:
        raise GenotypeError(f"{where}: input {int(value)} is out of range 0..{limit}")
    return int(value)


def _check_cell(pairs: Any, name: str) -> Cell:
    if not isinstance(pairs, (list, tuple)) or len(pairs) != 2 * NUM_NODES:
        size = len(pairs) if isinstance(pairs, (list, tuple)) else type(pairs).__name__
        raise GenotypeError(f"the {name} cell has {2 * NUM_NODES} (op, input) pairs, got {size}")
    cell: list[Pair] = []
    for position, pair in enumerate(pairs):
        node = position // 2 + 2
        where = f"{name} pair {position} (node {node})"
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise GenotypeError(f"{where}: expected an (op, input) pair, got {pair!r}")
        cell.append((_check_op(pair[0], where, DARTS_OPS), _check_input(pair[1], where, node - 1)))
    for k in range(NUM_NODES):
        if cell[2 * k][1] == cell[2 * k + 1][1]:
            raise GenotypeError(
                f"{name} node {k + 2}: its two pairs read the same input {cell[2 * k][1]}; "
                "the two inputs of a DARTS node must differ"
            )
    return tuple(cell)


@dataclass(frozen=True)
class DARTSGenotype(Genotype):
    """One DARTS genotype.

    Attributes:
        normal: ``(8,)`` ``(op, input)`` pairs of the normal cell; pairs ``2k, 2k+1`` feed node ``k+2``.
        reduce: ``(8,)`` the same for the reduction cell.
    """

    normal: Cell
    reduce: Cell
    space_name: ClassVar[str] = "darts"
    normal_concat: ClassVar[tuple[int, ...]] = DARTS_CONCAT
    reduce_concat: ClassVar[tuple[int, ...]] = DARTS_CONCAT

    def __post_init__(self) -> None:
        object.__setattr__(self, "normal", _check_cell(self.normal, "normal"))
        object.__setattr__(self, "reduce", _check_cell(self.reduce, "reduce"))

    def __str__(self) -> str:
        def cell(pairs: Cell) -> str:
            return "[" + ", ".join(f"('{op}', {i})" for op, i in pairs) + "]"

        concat = "[" + ", ".join(map(str, DARTS_CONCAT)) + "]"
        return (
            f"Genotype(normal={cell(self.normal)}, normal_concat={concat}, "
            f"reduce={cell(self.reduce)}, reduce_concat={concat})"
        )

    def fields(self) -> dict[str, Any]:
        return {
            "normal": [[op, i] for op, i in self.normal],
            "normal_concat": list(DARTS_CONCAT),
            "reduce": [[op, i] for op, i in self.reduce],
            "reduce_concat": list(DARTS_CONCAT),
        }

    def nodes(self, cell_type: str) -> tuple[tuple[Pair, Pair], ...]:
        """``(4,)`` the two pairs of each intermediate node of the ``normal`` or ``reduce`` cell."""
        pairs = {"normal": self.normal, "reduce": self.reduce}.get(cell_type)
        if pairs is None:
            raise GenotypeError(f"unknown cell type {cell_type!r}; valid: normal, reduce")
        return tuple((pairs[2 * k], pairs[2 * k + 1]) for k in range(NUM_NODES))


@register_space("darts")
class DARTSSpace(SearchSpace):
    """The DARTS / NAS-Bench-301 space (about 10^18 genotypes)."""

    name: ClassVar[str] = "darts"
    ops: ClassVar[tuple[str, ...]] = DARTS_OPS
    primitives: ClassVar[tuple[str, ...]] = DARTS_PRIMITIVES
    graph_vocabulary: ClassVar[tuple[str, ...]] = (
        "normal_in0",
        "normal_in1",
        "normal_out",
        "reduce_in0",
        "reduce_in1",
        "reduce_out",
        *DARTS_OPS,
        "add",
    )

    def parse(self, text: str) -> DARTSGenotype:
        """Read the DARTS ``Genotype(normal=[...], normal_concat=..., reduce=[...], reduce_concat=...)`` text.

        Keywords may come in any order; the concats may be omitted (they are always ``[2, 3, 4, 5]``)
        and may be written ``range(2, 6)``; pairs may be tuples or lists.

        Raises:
            GenotypeError: naming the position of the first bad token.
        """
        if not isinstance(text, str):
            raise GenotypeError(f"a darts genotype string must be str, got {type(text).__name__}")
        return _GenotypeParser(text).parse()

    def from_fields(self, fields: Mapping[str, Any]) -> DARTSGenotype:
        for name in ("normal_concat", "reduce_concat"):
            value = fields.get(name, list(DARTS_CONCAT))
            if not isinstance(value, (list, tuple)) or list(value) != list(DARTS_CONCAT):
                raise GenotypeError(f"darts {name!r} must be {list(DARTS_CONCAT)}, got {value!r}")
        if "normal" not in fields or "reduce" not in fields:
            raise GenotypeError("darts fields need 'normal' and 'reduce': lists of 8 [op, input] pairs")
        return DARTSGenotype(fields["normal"], fields["reduce"])

    def from_naslib(self, compact: str | Sequence[Sequence[Sequence[int]]]) -> DARTSGenotype:
        """The genotype of NASLib's compact encoding, or of its text as found in NASLib's JSON files.

        ``compact`` is ``(normal, reduce)``, each 8 ``(input, op_code)`` pairs, op codes indexing
        `DARTS_NASLIB_OPS`; e.g. ``"[[(0, 4), (1, 3), ...], [...]]"`` or ``"(((0, 6), ...), (...))"``.
        """
        if isinstance(compact, str):
            compact = _CompactParser(compact).parse()
        if not isinstance(compact, (list, tuple)) or len(compact) != 2:
            raise GenotypeError("a NASLib darts encoding is (normal, reduce): two lists of 8 (input, op) pairs")
        cells = []
        for name, cell in zip(("normal", "reduce"), compact):
            if not isinstance(cell, (list, tuple)) or len(cell) != 2 * NUM_NODES:
                raise GenotypeError(f"the NASLib {name} cell must hold {2 * NUM_NODES} (input, op) pairs")
            pairs = []
            for position, pair in enumerate(cell):
                if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                    raise GenotypeError(f"NASLib {name} pair {position}: expected (input, op), got {pair!r}")
                code = pair[1]
                if isinstance(code, bool) or not isinstance(code, (int, np.integer)) or not 0 <= code < 7:
                    raise GenotypeError(
                        f"NASLib {name} pair {position}: op code {code!r} is out of range 0..6 "
                        f"({', '.join(DARTS_NASLIB_OPS)})"
                    )
                pairs.append((DARTS_NASLIB_OPS[int(code)], pair[0]))
            cells.append(tuple(pairs))
        return DARTSGenotype(cells[0], cells[1])

    def to_naslib(self, genotype: Genotype) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
        """NASLib's compact encoding: ``(normal, reduce)``, each 8 ``(input, op_code)`` pairs."""
        g = _check(genotype)
        return tuple(  # type: ignore[return-value]
            tuple((i, DARTS_NASLIB_OPS.index(op)) for op, i in cell) for cell in (g.normal, g.reduce)
        )

    def to_graph(self, genotype: Genotype) -> ArchGraph:
        """Both cells as one graph (disjoint union): normal cell first, then reduction cell.

        Per cell: ``<type>_in0``, ``<type>_in1``, then for each node its two op nodes and an ``add``
        node, then ``<type>_out`` (the concat): 15 nodes, 30 in all.
        """
        g = _check(genotype)
        ops: list[str] = []
        edges: list[tuple[int, int]] = []
        for cell_type in ("normal", "reduce"):
            offset = len(ops)
            cell_ops, cell_edges = cell_graph(g.nodes(cell_type), cell_type)
            ops.extend(cell_ops)
            edges.extend((s + offset, d + offset) for s, d in cell_edges)
        return ArchGraph(tuple(ops), tuple(edges), self.graph_vocabulary)

    def canonical_hash(self, genotype: Genotype) -> str:
        """md5 of both cells' `canonical_cell` forms: equal exactly for isomorphic genotypes."""
        g = _check(genotype)
        key = repr(("darts", canonical_cell(g.nodes("normal")), canonical_cell(g.nodes("reduce"))))
        return hashlib.md5(key.encode()).hexdigest()

    def sample(self, rng: int | np.random.Generator | None = None) -> DARTSGenotype:
        """Uniform ops; each node's two distinct inputs uniform among its candidates, listed ascending."""
        gen = as_rng(rng)
        cells = []
        for _ in range(2):
            pairs = []
            for k in range(NUM_NODES):
                inputs = sorted(int(i) for i in gen.choice(k + 2, size=2, replace=False))
                pairs.extend((DARTS_OPS[int(gen.integers(len(DARTS_OPS)))], i) for i in inputs)
            cells.append(tuple(pairs))
        return DARTSGenotype(cells[0], cells[1])

    def neighbors(self, genotype: Genotype) -> list[DARTSGenotype]:
        """Genotypes that differ in the op or the input of one pair (valid ones only), in a fixed order."""
        g = _check(genotype)
        result = []
        for cell_type in ("normal", "reduce"):
            pairs = getattr(g, cell_type)
            for position, (op, i) in enumerate(pairs):
                partner = pairs[position ^ 1][1]
                options = [(new_op, i) for new_op in DARTS_OPS if new_op != op]
                options += [(op, j) for j in range(position // 2 + 2) if j not in (i, partner)]
                for pair in options:
                    changed = pairs[:position] + (pair,) + pairs[position + 1 :]
                    other = g.reduce if cell_type == "normal" else g.normal
                    cells = (changed, other) if cell_type == "normal" else (other, changed)
                    result.append(DARTSGenotype(*cells))
        return result


def cell_graph(nodes: Sequence[Sequence[Pair]], cell_type: str) -> tuple[list[str], list[tuple[int, int]]]:
    """The ops-on-nodes DAG of one cell, with nodes numbered in topological order.

    Nodes: ``<cell_type>_in0``, ``<cell_type>_in1``; per intermediate node, one node per pair (its
    op) then an ``add`` node; last ``<cell_type>_out``, fed by every ``add`` node.

    Args:
        nodes: ``(k,)`` the ``(op, input)`` pairs of each intermediate node.
        cell_type: ``"normal"`` or ``"reduce"``, the prefix of the input and output labels.

    Returns:
        ``(labels, edges)``: ``(num_nodes,)`` labels and ``(num_edges, 2)`` forward edges.
    """
    labels = [f"{cell_type}_in0", f"{cell_type}_in1"]
    edges: list[tuple[int, int]] = []
    source = [0, 1]  # graph node holding each cell input and each finished intermediate node
    for pairs in nodes:
        op_nodes = []
        for op, i in pairs:
            labels.append(op)
            op_nodes.append(len(labels) - 1)
            edges.append((source[i], op_nodes[-1]))
        labels.append("add")
        edges.extend((o, len(labels) - 1) for o in op_nodes)
        source.append(len(labels) - 1)
    labels.append(f"{cell_type}_out")
    edges.extend((s, len(labels) - 1) for s in source[2:])
    return labels, edges


def canonical_cell(nodes: Sequence[Sequence[Pair]]) -> tuple[tuple[Pair, ...], ...]:
    """A complete invariant of a cell under reordering pairs and relabelling intermediate nodes.

    The cell inputs 0 and 1 keep their labels. Intermediate nodes are first coloured by iterated
    refinement (ops and colours of their inputs and consumers); the result is the smallest
    encoding (per node, its sorted pairs with inputs renamed) over the node orders sorted by colour,
    ties tried in every order except among nodes whose exchange maps the cell onto itself.

    Args:
        nodes: ``(k,)`` the ``(op, input)`` pairs of each intermediate node ``2 .. k + 1``.

    Returns:
        ``(k,)`` sorted pairs per node of the canonical relabelling (inputs ``>= 2`` renamed).
    """
    k = len(nodes)
    cell = [tuple(pairs) for pairs in nodes]
    consumers: list[list[tuple[str, int]]] = [[] for _ in range(k)]
    for w, pairs in enumerate(cell):
        for op, i in pairs:
            if i >= 2:
                consumers[i - 2].append((op, w))
    colour = [0] * k
    while True:  # refine until the partition is stable; colours are ranks of label-free signatures
        signatures = [
            (
                colour[v],
                tuple(sorted((op, i - 2 if i < 2 else colour[i - 2]) for op, i in cell[v])),
                tuple(sorted((op, colour[w]) for op, w in consumers[v])),
            )
            for v in range(k)
        ]
        ranks = {sig: r for r, sig in enumerate(sorted(set(signatures)))}
        fresh = [ranks[sig] for sig in signatures]
        stable = len(ranks) == len(set(colour))
        colour = fresh
        if stable:
            break
    classes = [[v for v in range(k) if colour[v] == c] for c in range(max(colour, default=-1) + 1)]
    best: tuple[tuple[Pair, ...], ...] | None = None
    for order in _orders(cell, classes):
        position = {v: p for p, v in enumerate(order)}
        encoding = tuple(
            tuple(sorted((op, i if i < 2 else position[i - 2] + 2) for op, i in cell[v])) for v in order
        )
        if best is None or encoding < best:
            best = encoding
    assert best is not None
    return best


def _orders(cell: list[tuple[Pair, ...]], classes: list[list[int]]) -> Iterator[list[int]]:
    """Node orders: classes in turn, each class in every order of its non-interchangeable nodes."""
    per_class = []
    for members in classes:
        twin_of: list[int] = []  # representative of each member's twin group
        for v in members:
            twin_of.append(next((u for u in members[: len(twin_of)] if _swappable(cell, u, v)), v))
        arrangements = []
        for labels in sorted(set(itertools.permutations(twin_of))):
            queue = {t: [v for v, r in zip(members, twin_of) if r == t] for t in set(twin_of)}
            arrangements.append([queue[t].pop(0) for t in labels])
        per_class.append(arrangements)
    for combo in itertools.product(*per_class):
        yield [v for part in combo for v in part]


def _swappable(cell: list[tuple[Pair, ...]], u: int, v: int) -> bool:
    """Whether exchanging intermediate nodes ``u`` and ``v`` maps the cell onto itself."""
    swap = {u + 2: v + 2, v + 2: u + 2}
    image = {}
    for w, pairs in enumerate(cell):
        target = {u: v, v: u}.get(w, w)
        image[target] = sorted((op, swap.get(i, i)) for op, i in pairs)
    return all(image[w] == sorted(pairs) for w, pairs in enumerate(cell))


class _Tokens:
    """Tokens of a Python-like literal: names, integers, quoted strings and ``()[],=``."""

    def __init__(self, text: str, what: str) -> None:
        self.text, self.what = text, what
        self.items: list[tuple[str, Any, int]] = []
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if c.isspace():
                i += 1
            elif c in "()[],=":
                self.items.append(("punct", c, i))
                i += 1
            elif c in "'\"":
                end = text.find(c, i + 1)
                if end < 0:
                    self.fail(i, "an unterminated string")
                self.items.append(("str", text[i + 1 : end], i))
                i = end + 1
            elif c.isascii() and (c.isdigit() or c == "-"):
                j = i + 1
                while j < n and text[j].isascii() and text[j].isdigit():
                    j += 1
                digits = text[i + 1 if c == "-" else i : j]
                if not digits or len(digits) > 6:
                    self.fail(i, "a malformed integer")
                self.items.append(("int", int(text[i:j]), i))
                i = j
            elif c.isascii() and (c.isalpha() or c == "_"):
                j = i + 1
                while j < n and text[j].isascii() and (text[j].isalnum() or text[j] == "_"):
                    j += 1
                self.items.append(("name", text[i:j], i))
                i = j
            else:
                self.fail(i, f"an unexpected character {c!r}")
        self.pos = 0

    def fail(self, offset: int, found: str, expected: str = "") -> NoReturn:
        snippet = self.text[max(0, offset - 15) : offset + 15]
        hint = f"; expected {expected}" if expected else ""
        raise GenotypeError(f"{self.what}: {found} at position {offset} (near {snippet!r}){hint}")

    def peek(self) -> tuple[str, Any, int]:
        return self.items[self.pos] if self.pos < len(self.items) else ("end", None, len(self.text))

    def at(self, char: str) -> bool:
        """Whether the next token is the punctuation ``char``."""
        kind, value, _ = self.peek()
        return kind == "punct" and value == char

    def take(self, kind: str, value: Any = None, expected: str = "") -> Any:
        tok_kind, tok_value, offset = self.peek()
        if tok_kind != kind or (value is not None and tok_value != value):
            found = "the end of the text" if tok_kind == "end" else f"{tok_value!r}"
            self.fail(offset, found, expected or (repr(value) if value is not None else kind))
        self.pos += 1
        return tok_value

    def opens(self) -> str:
        """Take ``(`` or ``[`` and return the matching closer."""
        closer = ")" if self.at("(") else "]" if self.at("[") else None
        if closer is None:
            self.take("punct", "(", expected="'(' or '['")
        self.pos += 1
        return closer  # type: ignore[return-value]

    def sequence(self, item: Callable[[], Any], expected: str) -> list[Any]:
        """``(a, b, ...)`` or ``[a, b, ...]`` (trailing comma allowed) of ``item()`` values."""
        closer = self.opens()
        values = []
        while not self.at(closer):
            values.append(item())
            if self.at(","):
                self.pos += 1
            elif not self.at(closer):
                self.take("punct", closer, expected=f"',' or {closer!r} in {expected}")
        self.pos += 1
        return values


class _GenotypeParser(_Tokens):
    def __init__(self, text: str) -> None:
        super().__init__(text, "darts genotype")

    def parse(self) -> DARTSGenotype:
        self.take("name", "Genotype", expected="'Genotype('")
        self.take("punct", "(", expected="'(' after Genotype")
        values: dict[str, Any] = {}
        while not self.at(")"):
            _, key, offset = self.peek()
            self.take("name", expected="one of normal=, normal_concat=, reduce=, reduce_concat=")
            if key not in ("normal", "normal_concat", "reduce", "reduce_concat"):
                self.fail(offset, f"unknown keyword {key!r}", "normal, normal_concat, reduce or reduce_concat")
            if key in values:
                self.fail(offset, f"a repeated keyword {key!r}")
            self.take("punct", "=", expected=f"'=' after {key}")
            values[key] = self.concat() if key.endswith("_concat") else self.cell(key)
            if self.at(","):
                self.pos += 1
            elif not self.at(")"):
                self.take("punct", ")", expected="',' or ')'")
        self.pos += 1
        kind, value, offset = self.peek()
        if kind != "end":
            self.fail(offset, f"trailing text {value!r}", "the end of the text")
        for key in ("normal", "reduce"):
            if key not in values:
                raise GenotypeError(f"darts genotype: missing {key}=[...] in {self.text[:60]!r}...")
        return DARTSGenotype(tuple(values["normal"]), tuple(values["reduce"]))

    def cell(self, name: str) -> list[Pair]:
        return self.sequence(self.pair, f"the {name} list")

    def pair(self) -> Pair:
        closer = self.opens()
        offset = self.peek()[2]
        op = self.take("str", expected="a quoted op name")
        if op not in DARTS_OPS:
            reason = "'none' (a supernet-only candidate, never in a final genotype)" if op == "none" else f"op {op!r}"
            self.fail(offset, reason, f"one of {', '.join(DARTS_OPS)}")
        self.take("punct", ",", expected="',' between op and input")
        index = self.take("int", expected="an input index")
        if self.at(","):
            self.pos += 1
        self.take("punct", closer, expected=f"{closer!r} closing the pair")
        return (op, index)

    def concat(self) -> None:
        _, value, offset = self.peek()
        if value == "range":
            self.pos += 1
            self.take("punct", "(", expected="'(' after range")
            start = self.take("int", expected="2")
            self.take("punct", ",", expected="','")
            stop = self.take("int", expected="6")
            self.take("punct", ")", expected="')'")
            found = list(range(start, stop))
        else:
            found = self.sequence(lambda: self.take("int", expected="a node index"), "the concat list")
        if found != list(DARTS_CONCAT):
            self.fail(offset, f"concat {found}", f"{list(DARTS_CONCAT)} (or range(2, 6))")


class _CompactParser(_Tokens):
    def __init__(self, text: str) -> None:
        super().__init__(text, "NASLib darts encoding")

    def parse(self) -> list[Any]:
        int_pair = lambda: self.sequence(lambda: self.take("int", expected="an integer"), "a pair")  # noqa: E731
        cells = self.sequence(lambda: self.sequence(int_pair, "a cell"), "the encoding")
        kind, value, offset = self.peek()
        if kind != "end":
            self.fail(offset, f"trailing text {value!r}", "the end of the text")
        return cells


def _check(genotype: Genotype) -> DARTSGenotype:
    if not isinstance(genotype, DARTSGenotype):
        raise GenotypeError(f"expected a darts genotype, got {type(genotype).__name__}")
    return genotype
