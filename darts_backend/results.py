"""What a finished NB201 search run left behind: its derived genotype and final alpha distribution.

``genotype.json`` holds the derived cell, ``alphas.json`` the per-epoch history of the softmax of the
alphas, ``(6 edges, ops)`` per entry. `SearchOutcome.top_cells` turns the final distribution into the
``k`` cells of highest joint probability (edges independent), the cells a supernet search "ranks
highest" besides its argmax.
"""

from __future__ import annotations

import heapq
import json
import math
from dataclasses import dataclass
from pathlib import Path

from nasspace.nb201 import NB201Genotype
from nasspace.space import genotype_from_json

__all__ = ["SearchOutcome", "load_outcome"]


@dataclass(frozen=True)
class SearchOutcome:
    """The result of one NB201 supernet search.

    Attributes:
        genotype: the derived cell (``genotype.json``).
        ops: candidate op names, the columns of ``probabilities``.
        probabilities: final ``(6, len(ops))`` op distribution per edge (rows sum to 1).
        method: the searcher that produced it.
    """

    genotype: NB201Genotype
    ops: tuple[str, ...]
    probabilities: tuple[tuple[float, ...], ...]
    method: str

    def top_cells(self, k: int, *, exclude: tuple[str, ...] = ("none",)) -> list[NB201Genotype]:
        """The ``k`` cells of highest joint probability, best first, never using an op in ``exclude``.

        Exact top-k by beam search over edges: a cell in the top ``k`` has its every prefix among the
        top ``k`` prefixes, because the edges' log-probabilities add.
        """
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        allowed = [i for i, op in enumerate(self.ops) if op not in exclude]
        if not allowed:
            raise ValueError(f"exclude={exclude!r} leaves no op among {', '.join(self.ops)}")
        beam: list[tuple[float, tuple[int, ...]]] = [(0.0, ())]
        for row in self.probabilities:
            grown = [(score + math.log(max(row[i], 1e-300)), prefix + (i,)) for score, prefix in beam for i in allowed]
            beam = heapq.nlargest(k, grown, key=lambda item: item[0])
        return [NB201Genotype(tuple(self.ops[i] for i in prefix)) for _, prefix in beam]


def load_outcome(run_dir: str | Path) -> SearchOutcome:
    """Read ``genotype.json`` and the last entry of ``alphas.json`` of an NB201 search run folder.

    Raises:
        ValueError: a file is missing or is not what an NB201 search run writes.
    """
    run = Path(run_dir)
    files = {name: run / name for name in ("genotype.json", "alphas.json")}
    missing = [name for name, path in files.items() if not path.is_file()]
    if missing:
        raise ValueError(f"{run} lacks {', '.join(missing)}; give the folder of a finished darts-backend search run")
    genotype = genotype_from_json(json.loads(files["genotype.json"].read_text()))
    alphas = json.loads(files["alphas.json"].read_text())
    if not isinstance(genotype, NB201Genotype) or alphas.get("space") != "nb201":
        raise ValueError(f"{run} is not an NB201 search run (genotype {genotype}, alphas space {alphas.get('space')!r})")
    if not alphas.get("history"):
        raise ValueError(f"{files['alphas.json']} has an empty history: the run finished no epoch")
    probabilities = tuple(tuple(float(p) for p in row) for row in alphas["history"][-1]["alphas"])
    ops = tuple(alphas["ops"])
    if len(probabilities) != len(genotype.ops) or any(len(row) != len(ops) for row in probabilities):
        raise ValueError(f"{files['alphas.json']}: expected a ({len(genotype.ops)}, {len(ops)}) distribution per entry")
    return SearchOutcome(genotype, ops, probabilities, str(alphas.get("method", "")))
