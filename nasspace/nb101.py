"""NAS-Bench-101: a DAG of at most 7 vertices and 9 edges with one operation on each vertex.

A cell is an upper-triangular 0/1 adjacency matrix over ``n`` vertices (``2 <= n <= 7``) and one
op per vertex: ``input`` first, ``output`` last, and one of `NB101_OPS` on each vertex between.
Like the benchmark's ``ModelSpec``, a genotype is *pruned* on construction: vertices that do not lie
on a path from input to output are removed, and the 9-edge limit applies to what remains. So
``NB101Genotype`` always holds the pruned form, and two specs that prune to the same cell compare equal.

Strings. The benchmark identifies a cell by its spec hash (an md5 hex string, invariant under
relabelling the vertices), which cannot be inverted. So ``str(g)`` is a compact, invertible string,
the rows of the matrix then the ops::

    0110,0001,0001,0000|input,conv3x3-bn-relu,maxpool3x3,output

and the official hash is ``g.spec_hash`` (equally ``space.canonical_hash(g)``); ``space.parse`` also
reads ``{"matrix": [[...]], "ops": [...]}`` JSON and NASLib's key tuples, and explains, when given a
hash, that a hash names a cell but cannot be parsed.

The spec hash follows the algorithm the benchmark describes: each vertex starts from the md5 of its
``(out-degree, in-degree, label)`` (labels: input -1, output -2, the ops their index in `NB101_OPS`);
``n`` times, each vertex's fingerprint becomes the md5 of its sorted in-neighbour fingerprints, its
sorted out-neighbour fingerprints and its own; the hash is the md5 of the sorted fingerprints.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from nasspace.errors import GenotypeError
from nasspace.graph import ArchGraph
from nasspace.space import Genotype, SearchSpace, as_rng, register_space

__all__ = [
    "NB101_OPS",
    "NB101_NASLIB_CODES",
    "NB101_MAX_VERTICES",
    "NB101_MAX_EDGES",
    "NB101Genotype",
    "NB101Space",
    "nb101_spec_hash",
    "nb101_live_vertices",
]

NB101_OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
# NASLib's op codes (zc_nasbench101.json keys). Checked against that file: with this order the
# parameter counts it lists are reproduced exactly for all 500 cells (see tests/nasspace/test_nb101.py).
NB101_NASLIB_CODES: tuple[str, ...] = ("input", "output", "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu")
NB101_MAX_VERTICES = 7
NB101_MAX_EDGES = 9
_LABELS = {"input": -1, "output": -2, **{op: i for i, op in enumerate(NB101_OPS)}}


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def nb101_spec_hash(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> str:
    """The NAS-Bench-101 spec hash of a (pruned) cell.

    Invariant under any consistent permutation of the vertices; the matrix is not checked for
    being upper triangular, so permuted matrices may be hashed directly. The hashed texts are the
    Python spellings of the tuples and lists involved, so the result matches the benchmark's keys.

    Args:
        matrix: ``(n, n)`` 0/1 adjacency, ``matrix[src][dst]``.
        ops: ``(n,)`` ``input``, ``output`` or one of `NB101_OPS` per vertex.
    """
    n = len(matrix)
    edges = [(s, d) for s in range(n) for d in range(n) if matrix[s][d]]
    out_degree = [sum(1 for s, _ in edges if s == v) for v in range(n)]
    in_degree = [sum(1 for _, d in edges if d == v) for v in range(n)]
    prints = [_md5(str((out_degree[v], in_degree[v], _LABELS[ops[v]]))) for v in range(n)]
    for _ in range(n):
        prints = [
            _md5(
                "".join(sorted(prints[s] for s, d in edges if d == v))
                + "|"
                + "".join(sorted(prints[d] for s, d in edges if s == v))
                + "|"
                + prints[v]
            )
            for v in range(n)
        ]
    return _md5(str(sorted(prints)))


def _as_bit(value: Any, where: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)) and int(value) in (0, 1):
        return int(value)
    raise GenotypeError(f"adjacency entry {where} must be 0 or 1, got {value!r}")


def _prune(matrix: tuple[tuple[int, ...], ...]) -> list[int]:
    """Vertices on some input->output path (empty when the output is unreachable)."""
    n = len(matrix)

    def reach(start: int, forward: bool) -> set[int]:
        seen, stack = {start}, [start]
        while stack:
            v = stack.pop()
            for w in range(n):
                if (matrix[v][w] if forward else matrix[w][v]) and w not in seen:
                    seen.add(w)
                    stack.append(w)
        return seen

    keep = reach(0, True) & reach(n - 1, False)
    return sorted(keep) if n - 1 in keep else []


def nb101_live_vertices(matrix: Sequence[Sequence[int]]) -> list[int]:
    """The vertices of an ``(n, n)`` 0/1 DAG adjacency on some vertex-0 -> vertex-(n-1) path, sorted.

    Empty when the last vertex cannot be reached from the first: such a cell has no valid pruned form.
    """
    return _prune(tuple(tuple(int(x) for x in row) for row in matrix))


@dataclass(frozen=True)
class NB101Genotype(Genotype):
    """One NB101 cell, held in pruned form.

    Built from any ``ModelSpec``-style matrix and ops, it keeps only the vertices on input->output
    paths. Its JSON form carries ``matrix``, ``ops`` and, for lookups, ``spec_hash``.

    Attributes:
        matrix: ``(n, n)`` upper-triangular 0/1 adjacency, ``matrix[src][dst]``, ``2 <= n <= 7``.
        ops: ``(n,)`` ``input``, then one of `NB101_OPS` per middle vertex, then ``output``.
    """

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]
    space_name: ClassVar[str] = "nb101"

    def __post_init__(self) -> None:
        rows, ops = self.matrix, self.ops
        if isinstance(rows, np.ndarray):
            rows = rows.tolist()
        if not isinstance(rows, (list, tuple)) or not all(isinstance(r, (list, tuple, np.ndarray)) for r in rows):
            raise GenotypeError("an nb101 matrix must be a square list of 0/1 rows")
        if not isinstance(ops, (list, tuple)) or not all(isinstance(op, str) for op in ops):
            raise GenotypeError("nb101 ops must be a list of op names")
        n = len(rows)
        if not 2 <= n <= NB101_MAX_VERTICES:
            raise GenotypeError(f"an nb101 cell has 2..{NB101_MAX_VERTICES} vertices, got {n}")
        matrix = []
        for i, row in enumerate(rows):
            if len(row) != n:
                raise GenotypeError(f"row {i} of the nb101 matrix has {len(row)} entries, expected {n}")
            matrix.append(tuple(_as_bit(x, f"[{i}][{j}]") for j, x in enumerate(row)))
        if len(ops) != n:
            raise GenotypeError(f"an nb101 cell with {n} vertices needs {n} ops, got {len(ops)}")
        if ops[0] != "input" or ops[-1] != "output":
            raise GenotypeError(f"nb101 ops must start with 'input' and end with 'output', got {list(ops)}")
        for v, op in enumerate(ops[1:-1], start=1):
            if op not in NB101_OPS:
                raise GenotypeError(f"unknown op {op!r} on vertex {v}; valid ops: {', '.join(NB101_OPS)}")
        for i in range(n):
            for j in range(i + 1):
                if matrix[i][j]:
                    raise GenotypeError(f"the nb101 matrix must be strictly upper triangular; entry [{i}][{j}] is 1")
        keep = _prune(tuple(matrix))
        if not keep:
            raise GenotypeError("the nb101 cell has no path from input to output")
        pruned = tuple(tuple(matrix[i][j] for j in keep) for i in keep)
        edges = sum(map(sum, pruned))
        if edges > NB101_MAX_EDGES:
            raise GenotypeError(f"an nb101 cell has at most {NB101_MAX_EDGES} edges (after pruning), got {edges}")
        object.__setattr__(self, "matrix", pruned)
        object.__setattr__(self, "ops", tuple(ops[i] for i in keep))

    def __str__(self) -> str:
        rows = ",".join("".join(str(x) for x in row) for row in self.matrix)
        return f"{rows}|{','.join(self.ops)}"

    def fields(self) -> dict[str, Any]:
        return {"matrix": [list(row) for row in self.matrix], "ops": list(self.ops), "spec_hash": self.spec_hash}

    @property
    def num_vertices(self) -> int:
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        return sum(map(sum, self.matrix))

    @cached_property
    def spec_hash(self) -> str:
        """The official NAS-Bench-101 spec hash (md5 hex) of this cell."""
        return nb101_spec_hash(self.matrix, self.ops)


@register_space("nb101")
class NB101Space(SearchSpace):
    """The NAS-Bench-101 cell space (423,624 distinct cells)."""

    name: ClassVar[str] = "nb101"
    ops: ClassVar[tuple[str, ...]] = NB101_OPS
    graph_vocabulary: ClassVar[tuple[str, ...]] = ("input", *NB101_OPS, "output")

    def parse(self, text: str) -> NB101Genotype:
        """Read ``rows|ops`` (the canonical string), ``{"matrix", "ops"}`` JSON, or a NASLib key.

        Raises:
            GenotypeError: naming the bad part; a bare spec hash is refused with an explanation.
        """
        if not isinstance(text, str):
            raise GenotypeError(f"an nb101 genotype string must be str, got {type(text).__name__}")
        stripped = text.strip()
        if stripped.startswith("{"):
            try:
                data = json.loads(stripped)
            except (ValueError, RecursionError) as exc:
                raise GenotypeError(f"nb101 JSON text is not valid JSON: {exc}") from None
            if not isinstance(data, Mapping):
                raise GenotypeError("nb101 JSON text must be an object with 'matrix' and 'ops'")
            return self.from_fields(data)
        if stripped.startswith(("(", "[")):
            return self.from_naslib(stripped)
        if len(stripped) == 32 and all(c in "0123456789abcdef" for c in stripped.lower()):
            raise GenotypeError(
                f"{stripped!r} looks like an nb101 spec hash, which names a cell but cannot be inverted; "
                "give 'rows|ops' like '011,001,000|input,conv3x3-bn-relu,output' or "
                '{"matrix": [[...]], "ops": [...]}'
            )
        rows_text, sep, ops_text = stripped.partition("|")
        if not sep or "|" in ops_text:
            raise GenotypeError(
                f"an nb101 string is 'rows|ops' with one '|', like '011,001,000|input,conv3x3-bn-relu,output'; "
                f"got {text!r}"
            )
        rows = rows_text.split(",")
        matrix = []
        for i, row in enumerate(rows):
            if not row or any(c not in "01" for c in row):
                raise GenotypeError(f"row {i} {row!r} of {rows_text!r} must be a string of 0/1 digits")
            matrix.append([int(c) for c in row])
        ops = [op.strip() for op in ops_text.split(",")]
        return NB101Genotype(tuple(map(tuple, matrix)), tuple(ops))

    def from_fields(self, fields: Mapping[str, Any]) -> NB101Genotype:
        matrix, ops = fields.get("matrix"), fields.get("ops")
        if not isinstance(matrix, (list, tuple)) or not isinstance(ops, (list, tuple)):
            raise GenotypeError("nb101 fields need 'matrix' (a list of 0/1 rows) and 'ops' (a list of op names)")
        g = NB101Genotype(tuple(matrix), tuple(ops))
        claimed = fields.get("spec_hash")
        if claimed is not None and claimed != g.spec_hash:
            raise GenotypeError(f"nb101 'spec_hash' {claimed!r} disagrees with the cell, whose hash is {g.spec_hash}")
        return g

    def from_spec(self, matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> NB101Genotype:
        """The (pruned) genotype of a possibly unpruned ``ModelSpec``-style matrix and op list."""
        return NB101Genotype(tuple(tuple(row) for row in matrix), tuple(ops))

    def from_naslib(self, key: str | Sequence[int]) -> NB101Genotype:
        """The genotype of a NASLib key: ``n*n`` adjacency entries (row major) then ``n`` op codes.

        Op codes index `NB101_NASLIB_CODES` (0 input, 1 output, 2 maxpool3x3, 3 conv1x1-bn-relu,
        4 conv3x3-bn-relu). ``key`` is the tuple or its text, e.g. ``"(0, 1, ..., 4, 1)"``.
        """
        if isinstance(key, str):
            codes = _parse_int_tuple(key)
        elif isinstance(key, (list, tuple, np.ndarray)):
            codes = list(np.asarray(key).ravel()) if isinstance(key, np.ndarray) else list(key)
        else:
            raise GenotypeError(f"a NASLib nb101 key is a tuple of integers or its text, got {type(key).__name__}")
        n = next((m for m in range(2, NB101_MAX_VERTICES + 1) if m * m + m == len(codes)), None)
        if n is None:
            raise GenotypeError(f"a NASLib nb101 key has n*n + n entries (56 for 7 vertices), got {len(codes)}")
        for value in codes:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise GenotypeError(f"a NASLib nb101 key holds integers, got {value!r}")
        ops = []
        for code in codes[n * n :]:
            if not 0 <= int(code) < len(NB101_NASLIB_CODES):
                raise GenotypeError(
                    f"NASLib nb101 op code {code!r} is out of range 0..{len(NB101_NASLIB_CODES) - 1} "
                    f"({', '.join(NB101_NASLIB_CODES)})"
                )
            ops.append(NB101_NASLIB_CODES[int(code)])
        matrix = tuple(tuple(int(x) for x in codes[i * n : (i + 1) * n]) for i in range(n))
        return NB101Genotype(matrix, tuple(ops))

    def to_naslib(self, genotype: Genotype) -> tuple[int, ...]:
        """NASLib's key tuple of the pruned cell (``n*n + n`` entries for its ``n`` vertices)."""
        g = _check(genotype)
        return (*(x for row in g.matrix for x in row), *(NB101_NASLIB_CODES.index(op) for op in g.ops))

    def to_graph(self, genotype: Genotype) -> ArchGraph:
        """The cell itself: its vertices are already op nodes (input and output included)."""
        g = _check(genotype)
        n = g.num_vertices
        edges = tuple((s, d) for s in range(n) for d in range(n) if g.matrix[s][d])
        return ArchGraph(g.ops, edges, self.graph_vocabulary)

    def canonical_hash(self, genotype: Genotype) -> str:
        """The official NAS-Bench-101 spec hash (equal exactly for the benchmark's isomorphic cells)."""
        return _check(genotype).spec_hash

    def sample(self, rng: int | np.random.Generator | None = None) -> NB101Genotype:
        """A random valid cell, drawn as the benchmark's own examples do.

        A 7x7 matrix with each upper-triangular entry 1 with probability 1/2 and uniform middle ops,
        redrawn until the pruned cell is valid (connected, at most 9 edges).
        """
        gen = as_rng(rng)
        n = NB101_MAX_VERTICES
        while True:
            matrix = np.triu(gen.integers(0, 2, size=(n, n)), k=1)
            middle = gen.integers(len(NB101_OPS), size=n - 2)
            ops = ("input", *(NB101_OPS[int(i)] for i in middle), "output")
            try:
                return NB101Genotype(tuple(tuple(int(x) for x in row) for row in matrix), ops)
            except GenotypeError:
                continue

    def neighbors(self, genotype: Genotype) -> list[NB101Genotype]:
        """Valid cells one edit away, deduplicated, in a fixed order.

        Edits: flip one edge (results are pruned, so a removal may drop vertices); change the op of
        one middle vertex; and, below 7 vertices, insert one new vertex with an op on a new path
        ``u -> new -> w`` (the new vertex placed just before ``w``). The last edit is how a pruned
        cell grows: one added edge can never attach a new vertex.
        """
        g = _check(genotype)
        n = g.num_vertices
        candidates: list[tuple[tuple[tuple[int, ...], ...], tuple[str, ...]]] = []
        for s in range(n):
            for d in range(s + 1, n):
                rows = [list(row) for row in g.matrix]
                rows[s][d] = 1 - rows[s][d]
                candidates.append((tuple(map(tuple, rows)), g.ops))
        for v in range(1, n - 1):
            for op in NB101_OPS:
                if op != g.ops[v]:
                    candidates.append((g.matrix, g.ops[:v] + (op,) + g.ops[v + 1 :]))
        if n < NB101_MAX_VERTICES:
            for w in range(1, n):
                for u in range(w):
                    for op in NB101_OPS:
                        candidates.append(_insert_vertex(g, u, w, op))
        result: list[NB101Genotype] = []
        seen = {g}
        for matrix, ops in candidates:
            try:
                neighbour = NB101Genotype(matrix, ops)
            except GenotypeError:
                continue
            if neighbour not in seen:
                seen.add(neighbour)
                result.append(neighbour)
        return result


def _insert_vertex(
    g: NB101Genotype, u: int, w: int, op: str
) -> tuple[tuple[tuple[int, ...], ...], tuple[str, ...]]:
    """``g`` with a new vertex ``op`` at index ``w`` (old ``w..`` shift up) and edges ``u -> new -> w``."""
    n = g.num_vertices
    old = [i if i < w else i + 1 for i in range(n)]  # old index -> new index
    rows = [[0] * (n + 1) for _ in range(n + 1)]
    for s in range(n):
        for d in range(n):
            rows[old[s]][old[d]] = g.matrix[s][d]
    rows[old[u]][w] = 1
    rows[w][old[w]] = 1
    ops = g.ops[:w] + (op,) + g.ops[w:]
    return tuple(map(tuple, rows)), ops


def _parse_int_tuple(text: str) -> list[int]:
    """``"(0, 1, 2)"`` or ``"[0, 1, 2]"`` -> ``[0, 1, 2]``, by hand."""
    stripped = text.strip()
    if len(stripped) < 2 or (stripped[0], stripped[-1]) not in (("(", ")"), ("[", "]")):
        raise GenotypeError(f"a NASLib nb101 key is a parenthesised list of integers, got {text[:80]!r}")
    values = []
    for position, token in enumerate(stripped[1:-1].split(",")):
        token = token.strip()
        digits = token[1:] if token.startswith("-") else token
        if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > 3:
            raise GenotypeError(f"entry {position} {token!r} of the NASLib nb101 key is not a small integer")
        values.append(int(token))
    return values


def _check(genotype: Genotype) -> NB101Genotype:
    if not isinstance(genotype, NB101Genotype):
        raise GenotypeError(f"expected an nb101 genotype, got {type(genotype).__name__}")
    return genotype
