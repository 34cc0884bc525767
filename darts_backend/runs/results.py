"""What a finished supernet search run left behind: its derived genotype and final alpha distribution.

``genotype.json`` holds the derived cell, ``alphas.json`` the per-epoch history of the softmax of the
alphas: ``(6 edges, ops)`` per entry on NB201, ``(2 cell types, 14 edges, ops)`` in the DARTS space
(with edge normalization each entry also holds ``edge_weights``, ``(6,)`` or ``(2, 14)``, not read here).
`SearchOutcome.top_cells` turns the final distribution into the ``k`` cells of highest probability,
the cells a supernet search "ranks highest" besides the one it derived:

- NB201: one op per edge; a cell's probability is the product over edges.
- DARTS: per node of each cell type, two distinct inputs each with one op; a node's choice scores the
  product of its two edges' op probabilities, a cell the product over its nodes.

An ``spos`` run learns no alphas (its ``alphas.json`` holds the uniform sampling distribution): its
cells ranked highest are those of its final selection (``selection.json``), best first.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasspace.darts import DARTSGenotype
from nasspace.nb201 import NB201Genotype
from nasspace.space import Genotype, genotype_from_json
from darts_backend.errors import ConfigError, RunFolderError
from darts_backend.spaces import backend_space, list_backend_spaces

__all__ = ["SearchOutcome", "load_outcome"]


@dataclass(frozen=True)
class SearchOutcome:
    """The result of one shared-alpha supernet search (NB201, or the DARTS space in shared mode).

    Attributes:
        genotype: the derived cell (``genotype.json``).
        space: ``nb201`` or ``darts``.
        ops: candidate op names, the last axis of ``probabilities``.
        probabilities: final op distribution per edge: ``(6, O)`` (NB201) or ``(2, 14, O)`` (DARTS).
        method: the searcher that produced it.
        ranked: cells ranked by the run itself, best first (``spos``: its selection); empty otherwise.
    """

    genotype: Genotype
    space: str
    ops: tuple[str, ...]
    probabilities: Any
    method: str
    ranked: tuple[Genotype, ...] = ()

    def top_cells(self, k: int, *, exclude: tuple[str, ...] = ("none",)) -> list[Genotype]:
        """The ``k`` most probable cells, best first, never using an op in ``exclude``.

        Exact top-k by beam search over the independent choices (edges, or nodes): a cell in the top ``k``
        has its every prefix among the top ``k`` prefixes, because the choices' log-probabilities add.
        """
        if k < 0:
            raise ConfigError(f"k must be >= 0, got {k}")
        allowed = [i for i, op in enumerate(self.ops) if op not in exclude]
        if not allowed:
            raise ConfigError(f"exclude={exclude!r} leaves no op among {', '.join(self.ops)}")
        if self.ranked:
            return [g for g in self.ranked if not set(exclude) & set(_ops_of(g))][:k]
        choices = self._nb201_choices(allowed) if self.space == "nb201" else self._darts_choices(allowed)
        beam: list[tuple[float, tuple[Any, ...]]] = [(0.0, ())]
        for options in choices:
            grown = [(score + s, prefix + (part,)) for score, prefix in beam for s, part in options]
            beam = heapq.nlargest(k, grown, key=lambda item: item[0])
        if self.space == "nb201":
            return [NB201Genotype(parts) for _, parts in beam]
        return [DARTSGenotype(_flat(parts[:4]), _flat(parts[4:])) for _, parts in beam]

    def _nb201_choices(self, allowed: list[int]) -> list[list[tuple[float, str]]]:
        return [[(_log(row[i]), self.ops[i]) for i in allowed] for row in self.probabilities]

    def _darts_choices(self, allowed: list[int]) -> list[list[tuple[float, tuple]]]:
        out = []
        for cell in self.probabilities:  # normal, then reduce
            start = 0
            for node in range(4):
                edges = cell[start:start + node + 2]  # node reads inputs 0 .. node + 1
                best = [[(_log(edges[j][o]), (self.ops[o], j)) for o in allowed] for j in range(node + 2)]
                out.append([(s1 + s2, (p1, p2)) for j1, j2 in itertools.combinations(range(node + 2), 2)
                            for s1, p1 in best[j1] for s2, p2 in best[j2]])
                start += node + 2
        return out


def _ops_of(genotype: Genotype) -> list[str]:
    if isinstance(genotype, NB201Genotype):
        return list(genotype.ops)
    return [op for op, _ in (*genotype.normal, *genotype.reduce)]  # type: ignore[attr-defined]


def _log(p: float) -> float:
    return math.log(max(float(p), 1e-300))


def _flat(nodes: Sequence[tuple]) -> tuple:
    return tuple(pair for node in nodes for pair in node)


def load_outcome(run_dir: str | Path) -> SearchOutcome:
    """Read ``genotype.json`` and the last entry of ``alphas.json`` of a single-darts / darts / spos run folder
    (and an spos run's ``selection.json``).

    Raises:
        ValueError: a file is missing or is not what such a run writes.
    """
    run = Path(run_dir)
    files = {name: run / name for name in ("genotype.json", "alphas.json")}
    missing = [name for name, path in files.items() if not path.is_file()]
    if missing:
        hint = (" (a dnad/fx-darts run emits a set of flex genotypes and cannot seed)" if (run / "genotypes.json").is_file()
                else "")
        raise RunFolderError(f"{run} lacks {', '.join(missing)}; give the folder of a finished single-darts or darts "
                             f"search run{hint}")
    genotype = genotype_from_json(json.loads(files["genotype.json"].read_text()))
    alphas = json.loads(files["alphas.json"].read_text())
    space = alphas.get("space")
    spaces = list_backend_spaces()
    if space not in spaces or genotype.space.name != space:
        raise RunFolderError(f"{run} is not a single-darts/darts run on {' or '.join(spaces)} "
                         f"(genotype space {genotype.space.name!r}, alphas space {space!r})")
    if not alphas.get("history"):
        raise RunFolderError(f"{files['alphas.json']} has an empty history: the run finished no epoch")
    ops = tuple(alphas["ops"])
    probabilities = alphas["history"][-1]["alphas"]
    shape = backend_space(space).alpha_shape(len(ops))
    if _shape(probabilities) != shape:
        raise RunFolderError(f"{files['alphas.json']}: expected a {shape} distribution per entry, got {_shape(probabilities)}")
    method = str(alphas.get("method", ""))
    ranked: tuple[Genotype, ...] = ()
    if method == "spos":
        selection = run / "selection.json"
        if not selection.is_file():
            raise RunFolderError(f"{run} is an spos run without selection.json: it did not finish")
        ranked = tuple(genotype.space.parse(item["genotype"]) for item in json.loads(selection.read_text())["ranked"])
    return SearchOutcome(genotype, space, ops, probabilities, method, ranked)


def _shape(nested: Any) -> tuple[int, ...]:
    shape = []
    while isinstance(nested, list):
        shape.append(len(nested))
        nested = nested[0] if nested else None
    return tuple(shape)
