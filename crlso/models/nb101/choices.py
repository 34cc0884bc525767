"""An NB101 cell as a row of 26 choices, so that the generic decoder can read and write it too.

Positions ``0..4``: the op class of middle slots 1..5 (``empty`` or one of `NB101_OPS`); positions ``5..25``:
whether each of the 21 slot pairs ``i < j`` holds an edge (the slot layout of `crlso.models.nb101.decoder`).
`NB101Choices.from_choices` repairs any row into a valid cell with that module's `repair_cell` (edges of the
row at probability 1, others 0). The hand-written `NB101Decoder` keeps the edge probabilities for the repair.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crlso.models.nb101.decoder import SLOT_PAIRS, repair_cell, slot_layout
from nasspace import Genotype
from nasspace.errors import GenotypeError
from nasspace.nb101 import NB101_MAX_VERTICES, NB101_OPS, NB101Genotype

__all__ = ["NB101Choices"]

_SLOTS = NB101_MAX_VERTICES
_MIDDLE = _SLOTS - 2


class NB101Choices:
    """``choice_sizes`` ``(26,)``: 5 slot ops of ``1 + len(NB101_OPS)`` classes, then 21 edge bits."""

    name = "nb101"
    choice_sizes = (1 + len(NB101_OPS),) * _MIDDLE + (2,) * len(SLOT_PAIRS)

    def to_choices(self, genotype: Genotype) -> tuple[int, ...]:
        if not isinstance(genotype, NB101Genotype):
            raise GenotypeError(f"expected an NB101Genotype, got {type(genotype).__name__}")
        ops, edges = slot_layout(genotype)
        return (*ops, *edges)

    def from_choices(self, choices: Sequence[int]) -> NB101Genotype:
        if len(choices) != len(self.choice_sizes):
            raise GenotypeError(f"an NB101 row has {len(self.choice_sizes)} choices, got {len(choices)}")
        ops = choices[:_MIDDLE]
        active = [0, *(s + 1 for s in range(_MIDDLE) if ops[s] > 0), _SLOTS - 1]
        full = np.zeros((_SLOTS, _SLOTS))
        for (s, d), bit in zip(SLOT_PAIRS, choices[_MIDDLE:]):
            full[s, d] = float(bit)
        names = ["input", *(NB101_OPS[ops[s - 1] - 1] for s in active[1:-1]), "output"]
        return repair_cell(names, full[np.ix_(active, active)])
