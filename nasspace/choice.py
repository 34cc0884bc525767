"""Spaces whose genotypes are a fixed row of categorical choices: chains of layers and labelled-DAG cells.

A `ChoiceSpace` is described by its positions (a label and the option names of each) and a graph layout
that turns a row of choices into the ops-on-nodes `ArchGraph` the encoders read:

- `SEQUENCE`: input -> layer 1 -> ... -> layer N -> output, each layer labelled by its choice;
- `EDGE_CELL`: a cell of ``nodes`` nodes (0 the input, the last the output) whose listed edges each carry
  one op (as NB201: every edge becomes a node of the graph, fed by the edges that end where it starts);
- `NODE_CELL`: a cell whose intermediate nodes each carry one op over fixed edges, optionally followed by
  one ``0``/``1`` position per edge saying whether it is present.

The canonical string is the option names joined by ``|`` in position order (``conv3x3|skip|...``).
``canonical_hash`` hashes that string: cells that compute the same function are not merged unless a
subclass says how. An optional ``admissible`` set restricts the space to the genotypes a table holds:
sampling, neighbours and enumeration stay inside it, and `from_choices` repairs a row outside it to the
nearest admissible row (fewest differing positions, the earliest listed on ties).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from nasspace.errors import GenotypeError
from nasspace.graph import ArchGraph
from nasspace.space import Genotype, SearchSpace, as_rng, get_space

__all__ = ["SEQUENCE", "EDGE_CELL", "NODE_CELL", "LAYOUTS", "Position", "ChoiceGenotype", "ChoiceSpace",
           "MAX_ENUMERATED"]

SEQUENCE, EDGE_CELL, NODE_CELL = "sequence", "edge_cell", "node_cell"
LAYOUTS = (SEQUENCE, EDGE_CELL, NODE_CELL)
MAX_ENUMERATED = 2_000_000
"""Largest product of option counts that `ChoiceSpace.enumerate` lists without an admissible set."""


@dataclass(frozen=True)
class Position:
    """One categorical choice: its ``label`` (e.g. ``layer3`` or ``0>2``) and its option names."""

    label: str
    options: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", tuple(self.options))
        if len(self.options) < 1 or len(set(self.options)) != len(self.options):
            raise GenotypeError(f"position {self.label!r} needs distinct options, got {list(self.options)}")
        bad = [o for o in self.options if not o or "|" in o or o != o.strip()]
        if bad:
            raise GenotypeError(f"option names of {self.label!r} must be non-empty, without '|' or edge spaces: {bad}")


@dataclass(frozen=True)
class ChoiceGenotype(Genotype):
    """One row of choices of a `ChoiceSpace` (equal and hashed by space name and choices).

    Attributes:
        space_name: the registered space it belongs to.
        choices: ``(P,)`` option index per position.
    """

    space_name: str  # type: ignore[misc]  # an instance field here: several choice spaces share this class
    choices: tuple[int, ...]
    text: str = field(default="", compare=False, repr=False)

    def __str__(self) -> str:
        return self.text or "|".join(get_space(self.space_name).names(self))  # type: ignore[attr-defined]

    def fields(self) -> dict[str, Any]:
        return {"choices": list(self.choices)}


class ChoiceSpace(SearchSpace):
    """A space of rows of categorical choices (see the module doc).

    Args:
        name: the registry name (`nasspace.register_space_instance` registers an instance).
        positions: the choices, in string order.
        layout: `SEQUENCE`, `EDGE_CELL` or `NODE_CELL`.
        nodes: cell layouts: node count, input 0 and output ``nodes - 1``.
        edges: cell layouts: the ``(src, dst)`` pairs, ``src < dst`` (``EDGE_CELL``: one position per edge,
            in this order; ``NODE_CELL``: the edges, present unless ``optional_edges``).
        optional_edges: ``NODE_CELL``: the last ``len(edges)`` positions are ``0``/``1`` presence choices.
        admissible: rows of option indices; when given, the space is exactly these genotypes.
    """

    name: str  # type: ignore[misc]
    ops: tuple[str, ...]  # type: ignore[misc]
    graph_vocabulary: tuple[str, ...]
    genotype_class: ClassVar[type[ChoiceGenotype]] = ChoiceGenotype

    def __init__(self, name: str, positions: Sequence[Position], *, layout: str = SEQUENCE, nodes: int | None = None,
                 edges: Sequence[tuple[int, int]] = (), optional_edges: bool = False,
                 admissible: Iterable[Sequence[int]] | None = None):
        if layout not in LAYOUTS:
            raise GenotypeError(f"unknown layout {layout!r}; valid: {', '.join(LAYOUTS)}")
        self.name, self.positions, self.layout = name, tuple(positions), layout
        if not self.positions:
            raise GenotypeError(f"space {name!r} has no positions")
        self.nodes, self.edges, self.optional_edges = nodes, tuple(tuple(e) for e in edges), optional_edges
        self._check_layout()
        op_names = [o for p in self._op_positions() for o in p.options]
        self.ops = tuple(dict.fromkeys(op_names))
        self.graph_vocabulary = ("input", *self.ops, "output")
        self.choice_sizes = tuple(len(p.options) for p in self.positions)
        self._index = [{o: i for i, o in enumerate(p.options)} for p in self.positions]
        self._admissible: np.ndarray | None = None
        self._admissible_set: set[tuple[int, ...]] | None = None
        if admissible is not None:
            rows = np.asarray([tuple(r) for r in admissible], dtype=np.int64).reshape(-1, len(self.positions))
            if len(rows) == 0:
                raise GenotypeError(f"space {name!r}: the admissible set is empty")
            for row in rows:
                self._check_row(tuple(int(i) for i in row))
            self._admissible = rows
            self._admissible_set = {tuple(int(i) for i in r) for r in rows}

    # -- layout -----------------------------------------------------------------------------------
    def _op_positions(self) -> tuple[Position, ...]:
        if self.layout == NODE_CELL and self.optional_edges:
            return self.positions[: len(self.positions) - len(self.edges)]
        return self.positions

    def _check_layout(self) -> None:
        if self.layout == SEQUENCE:
            return
        if self.nodes is None or self.nodes < 2:
            raise GenotypeError(f"a cell space needs nodes >= 2, got {self.nodes}")
        for src, dst in self.edges:
            if not 0 <= src < dst < self.nodes:
                raise GenotypeError(f"edge {src}>{dst} must run forward between nodes 0..{self.nodes - 1}")
        if len(set(self.edges)) != len(self.edges) or not self.edges:
            raise GenotypeError("a cell space needs a non-empty list of distinct edges")
        expected = (len(self.edges) if self.layout == EDGE_CELL
                    else self.nodes - 2 + (len(self.edges) if self.optional_edges else 0))
        if len(self.positions) != expected:
            raise GenotypeError(f"a {self.layout} of {self.nodes} nodes and {len(self.edges)} edges has {expected} "
                                f"positions, got {len(self.positions)}")

    def definition(self) -> str:
        """A JSON string of everything that defines the space (the admissible rows as a digest); computed once."""
        if getattr(self, "_definition", None) is None:
            self._definition = self._describe()
        return self._definition

    def _describe(self) -> str:
        admissible = None
        if self._admissible is not None:
            admissible = hashlib.sha256(np.ascontiguousarray(self._admissible).tobytes()).hexdigest()
        return json.dumps({"name": self.name, "layout": self.layout, "nodes": self.nodes, "edges": self.edges,
                           "optional_edges": self.optional_edges, "admissible": admissible,
                           "positions": [[p.label, list(p.options)] for p in self.positions]})

    @property
    def max_graph_nodes(self) -> int:
        """Nodes of the `ArchGraph` of a genotype (the same for all)."""
        return {SEQUENCE: len(self.positions) + 2, EDGE_CELL: len(self.edges) + 2}.get(self.layout, self.nodes or 0)

    @property
    def num_cells(self) -> int:
        """Genotypes in the space: the admissible rows, else the product of the option counts."""
        return len(self._admissible) if self._admissible is not None else int(np.prod(self.choice_sizes))

    # -- rows and strings ---------------------------------------------------------------------------
    def _check_row(self, row: tuple[int, ...]) -> None:
        if len(row) != len(self.positions):
            raise GenotypeError(f"a {self.name} genotype has {len(self.positions)} choices, got {len(row)}")
        for i, (value, position) in enumerate(zip(row, self.positions)):
            if not 0 <= value < len(position.options):
                raise GenotypeError(f"choice {value} at position {i} ({position.label}) is out of range "
                                    f"0..{len(position.options) - 1}")

    def from_choices(self, choices: Sequence[int], *, repair: bool = True) -> ChoiceGenotype:
        """The genotype of a row of option indices; outside an admissible set, the nearest admissible row
        (``repair``) or a GenotypeError."""
        row = tuple(int(c) for c in choices)
        self._check_row(row)
        if self._admissible_set is not None and row not in self._admissible_set:
            if not repair:
                raise GenotypeError(f"{'|'.join(self._names_of(row))} is not a genotype of space {self.name!r} "
                                    f"(its table holds {len(self._admissible)} architectures)")
            distance = (self._admissible != np.asarray(row)).sum(axis=1)
            row = tuple(int(i) for i in self._admissible[int(np.argmin(distance))])
        return self.genotype_class(self.name, row, "|".join(self._names_of(row)))

    def to_choices(self, genotype: Genotype) -> tuple[int, ...]:
        """``(P,)`` option index per position."""
        return self._check(genotype).choices

    def _names_of(self, row: Sequence[int]) -> list[str]:
        return [p.options[i] for p, i in zip(self.positions, row)]

    def names(self, genotype: Genotype) -> list[str]:
        """The option name at every position."""
        return self._names_of(self._check(genotype).choices)

    def parse(self, text: str) -> ChoiceGenotype:
        if not isinstance(text, str):
            raise GenotypeError(f"a {self.name} genotype string must be str, got {type(text).__name__}")
        tokens = [t.strip() for t in text.strip().split("|")]
        if len(tokens) != len(self.positions):
            raise GenotypeError(f"a {self.name} genotype is {len(self.positions)} '|'-separated choices, got "
                                f"{len(tokens)} in {text!r}")
        row = []
        for token, position, index in zip(tokens, self.positions, self._index):
            if token not in index:
                raise GenotypeError(f"unknown choice {token!r} at {position.label}; valid: {', '.join(position.options)}")
            row.append(index[token])
        return self.from_choices(row, repair=False)

    def from_fields(self, fields: Mapping[str, Any]) -> ChoiceGenotype:
        choices = fields.get("choices")
        if not isinstance(choices, (list, tuple)) or not all(isinstance(c, int) and not isinstance(c, bool) for c in choices):
            raise GenotypeError(f"{self.name} fields need 'choices': a list of {len(self.positions)} option indices")
        return self.from_choices(choices, repair=False)

    def _check(self, genotype: Genotype) -> ChoiceGenotype:
        if not isinstance(genotype, ChoiceGenotype) or genotype.space_name != self.name:
            raise GenotypeError(f"expected a {self.name} genotype, got {type(genotype).__name__} "
                                f"{getattr(genotype, 'space_name', '?')}")
        return genotype

    # -- structure ----------------------------------------------------------------------------------
    def to_graph(self, genotype: Genotype) -> ArchGraph:
        """The ops-on-nodes DAG of the layout (see the module doc)."""
        names = self.names(genotype)
        if self.layout == SEQUENCE:
            labels = ("input", *names, "output")
            return ArchGraph(labels, tuple((i, i + 1) for i in range(len(labels) - 1)), self.graph_vocabulary)
        if self.layout == EDGE_CELL:
            return self._edge_cell_graph(names)
        return self._node_cell_graph(names)

    def _edge_cell_graph(self, ops: list[str]) -> ArchGraph:
        labels = ("input", *ops, "output")
        out, edges = len(labels) - 1, []
        for k, (src, dst) in enumerate(self.edges):
            if src == 0:
                edges.append((0, k + 1))
            else:
                edges.extend((j + 1, k + 1) for j, (_, d) in enumerate(self.edges) if d == src)
            if dst == self.nodes - 1:
                edges.append((k + 1, out))
        return ArchGraph(labels, tuple(sorted(edges)), self.graph_vocabulary)

    def _node_cell_graph(self, names: list[str]) -> ArchGraph:
        inner = self.nodes - 2
        present = [True] * len(self.edges) if not self.optional_edges else [n == "1" for n in names[inner:]]
        labels = ("input", *names[:inner], "output")
        return ArchGraph(labels, tuple(e for e, on in zip(self.edges, present) if on), self.graph_vocabulary)

    def canonical_hash(self, genotype: Genotype) -> str:
        """md5 of the canonical string (no merging of functionally equal cells)."""
        return hashlib.md5(f"{self.name}:{genotype}".encode()).hexdigest()

    # -- sampling and neighbourhoods -----------------------------------------------------------------
    def sample(self, rng: int | np.random.Generator | None = None) -> ChoiceGenotype:
        """Uniform over the admissible rows, else an independent uniform choice per position."""
        gen = as_rng(rng)
        if self._admissible is not None:
            return self.from_choices(self._admissible[int(gen.integers(len(self._admissible)))])
        return self.from_choices([int(gen.integers(n)) for n in self.choice_sizes])

    def neighbors(self, genotype: Genotype) -> list[ChoiceGenotype]:
        """Every genotype that differs in one position (and is admissible), positions then options in order."""
        row = self.to_choices(genotype)
        result = []
        for i, size in enumerate(self.choice_sizes):
            for option in range(size):
                if option != row[i]:
                    other = row[:i] + (option,) + row[i + 1:]
                    if self._admissible_set is None or other in self._admissible_set:
                        result.append(self.from_choices(other, repair=False))
        return result

    def edit_distance(self, a: Genotype, b: Genotype) -> int:
        """Positions at which two genotypes differ."""
        return sum(x != y for x, y in zip(self.to_choices(a), self.to_choices(b)))

    def enumerate(self) -> Iterator[ChoiceGenotype]:
        """The admissible rows in their order, else every row in product order (first position slowest)."""
        if self._admissible is not None:
            for row in self._admissible:
                yield self.from_choices(row, repair=False)
            return
        if self.num_cells > MAX_ENUMERATED:
            raise NotImplementedError(f"space {self.name!r} has {self.num_cells} genotypes, too many to enumerate "
                                      f"(at most {MAX_ENUMERATED})")
        for row in itertools.product(*(range(n) for n in self.choice_sizes)):
            yield self.from_choices(row, repair=False)

    def is_enumerable(self) -> bool:
        """Whether `enumerate` lists the space."""
        return self._admissible is not None or self.num_cells <= MAX_ENUMERATED

    def __repr__(self) -> str:
        return f"ChoiceSpace({self.name!r}, {self.layout}, {len(self.positions)} positions, {self.num_cells} genotypes)"
