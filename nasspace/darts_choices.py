"""A DARTS genotype as a row of 32 categorical choices (what the generic VAE decoder reads and writes).

Choice ``4 * (4 * c + k) + p`` belongs to cell ``c`` (0 normal, 1 reduce), node ``k + 2`` (inputs
``0 .. k + 1``) and part ``p``:

- ``p = 0``: the node's two distinct inputs ``a < b``, one of the ``C(k + 2, 2)`` unordered pairs (in
  ``itertools.combinations`` order);
- ``p = 1`` / ``p = 2``: the op (7 `DARTS_OPS`, never ``none``) on input ``a`` / ``b``;
- ``p = 3``: the order of the node's two pairs in the genotype (0: ``a`` first, 1: ``b`` first). It does not
  change the network, but `DARTSGenotype` strings (hence dedup and table lookups) keep the order they were
  given, and the NB301 cells list either input first, so a row reproduces it.

Every row within ``choice_sizes`` is a valid genotype.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from nasspace.darts import DARTS_OPS, NUM_NODES, DARTSGenotype
from nasspace.errors import GenotypeError
from nasspace.space import Genotype

__all__ = ["DARTSChoices"]

_CELLS = ("normal", "reduce")
_PARTS = 4


class DARTSChoices:
    """`choice_sizes` ``(32,)``, `to_choices` and `from_choices` of DARTS genotypes (see the module doc)."""

    name = "darts"

    def __init__(self) -> None:
        self.input_pairs = [list(itertools.combinations(range(k + 2), 2)) for k in range(NUM_NODES)]
        per_node = [(len(pairs), len(DARTS_OPS), len(DARTS_OPS), 2) for pairs in self.input_pairs]
        self.choice_sizes = tuple(size for _ in _CELLS for node in per_node for size in node)

    def to_choices(self, genotype: Genotype) -> tuple[int, ...]:
        if not isinstance(genotype, DARTSGenotype):
            raise GenotypeError(f"expected a DARTSGenotype, got {type(genotype).__name__}")
        row: list[int] = []
        for cell_type in _CELLS:
            for k, ((op0, i0), (op1, i1)) in enumerate(genotype.nodes(cell_type)):
                (op_a, a), (op_b, b) = sorted(((op0, i0), (op1, i1)), key=lambda pair: pair[1])
                row += [self.input_pairs[k].index((a, b)), DARTS_OPS.index(op_a), DARTS_OPS.index(op_b), int(i0 > i1)]
        return tuple(row)

    def from_choices(self, choices: Sequence[int]) -> DARTSGenotype:
        if len(choices) != len(self.choice_sizes):
            raise GenotypeError(f"a DARTS row has {len(self.choice_sizes)} choices, got {len(choices)}")
        cells = []
        for c in range(len(_CELLS)):
            pairs: list[tuple[str, int]] = []
            for k in range(NUM_NODES):
                pair, op_a, op_b, order = choices[_PARTS * (NUM_NODES * c + k):][:_PARTS]
                a, b = self.input_pairs[k][pair]
                node = [(DARTS_OPS[op_a], a), (DARTS_OPS[op_b], b)]
                pairs += node[::-1] if order else node
            cells.append(tuple(pairs))
        return DARTSGenotype(cells[0], cells[1])
