"""TransNAS-Bench-101 MICRO: a 4-node cell whose 6 edges each carry one of 4 operations (4,096 cells).

The cell is NB201's: node 0 is the cell input, node 3 its output, every node sums its incoming edges, and the
edges are listed by target node as in NB201: 0>1, 0>2, 1>2, 0>3, 1>3, 2>3. Each edge carries ``none`` (the
zero op), ``skip_connect`` (identity; a factorized reduction in reduction cells), ``conv_1x1`` or ``conv_3x3``
(ReLU-conv-BN). The benchmark stacks the same cell in a fixed ResNet-like backbone for seven Taskonomy tasks
(see `nasspace.benchmarks.tnb101`).

The canonical string is the six edge ops joined by ``|`` in that edge order, e.g.
``conv_3x3|conv_3x3|conv_1x1|skip_connect|conv_3x3|conv_1x1`` (TransNAS-Bench's own ``64-41414-3_32_132``).

Op codes. TransNAS-Bench names a cell ``64-41414-a_bc_def``: digit ``a`` is edge 0>1, ``bc`` edges 0>2, 1>2 and
``def`` edges 0>3, 1>3, 2>3, with 0 = zero, 1 = skip, 2 = 1x1 conv, 3 = 3x3 conv (its ``cell_ops.OPS``).
NASLib's op-index tuple for this space (``get_hash()``, the ``arch`` of its zero-cost benchmark files) is
formatted straight into that string when NASLib queries the benchmark or builds the model, so it uses the
same edge order and codes; NASLib's own graph object (``OP_NAMES = Identity, Zero, 3x3, 1x1`` over edges
listed by source node) reads the tuple differently, but the tabulated metrics and zero-cost scores follow the
TransNAS-Bench string. The data agree: the 169 cells with no non-zero path from input to output under this
reading are exactly those with a constant, chance-level metric on every classification task and the Zen-NAS
sentinel score -1e8. `TNB101MicroSpace.from_naslib` and ``to_naslib`` are therefore the identity on codes and
edge order (checked for range).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

from nasspace.choice import EDGE_CELL, ChoiceGenotype, ChoiceSpace, Position
from nasspace.errors import GenotypeError
from nasspace.space import Genotype, register_space_instance

__all__ = ["TNB101_OPS", "TNB101_EDGES", "TNB101_SIZE", "TNB101MicroSpace", "TNB101_MICRO"]

TNB101_OPS: tuple[str, ...] = ("none", "skip_connect", "conv_1x1", "conv_3x3")
"""Op names; position = TransNAS-Bench's (and NASLib's tuple's) op code 0..3."""
TNB101_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
"""The edges in string order (NB201's, and TransNAS-Bench's ``a_bc_def`` order)."""
TNB101_SIZE: int = len(TNB101_OPS) ** len(TNB101_EDGES)
"""Cells in the space (4,096)."""


class TNB101MicroSpace(ChoiceSpace):
    """The TransNAS-Bench-101 micro cell space (see the module doc), registered as ``tnb101-micro``."""

    def __init__(self) -> None:
        positions = [Position(f"{src}>{dst}", TNB101_OPS) for src, dst in TNB101_EDGES]
        super().__init__("tnb101-micro", positions, layout=EDGE_CELL, nodes=4, edges=TNB101_EDGES)

    def from_naslib(self, codes: Sequence[int]) -> ChoiceGenotype:
        """The genotype of NASLib's TransNAS micro op-index tuple (6 codes 0..3, see the module doc).

        Raises:
            GenotypeError: not 6 integer codes in 0..3.
        """
        values = list(codes)
        if len(values) != len(TNB101_EDGES) or any(isinstance(c, bool) or not hasattr(c, "__index__") for c in values):
            raise GenotypeError(f"a NASLib tnb101-micro key is {len(TNB101_EDGES)} integer op codes 0..3, got {values}")
        row = [operator.index(c) for c in values]
        return self.from_choices(row, repair=False)

    def to_naslib(self, genotype: Genotype) -> tuple[int, ...]:
        """NASLib's op-index tuple of a cell (the inverse of `from_naslib`)."""
        return self.to_choices(genotype)

    def to_tnb101_string(self, genotype: Genotype) -> str:
        """TransNAS-Bench's own name of the cell, ``64-41414-a_bc_def``."""
        a, b, c, d, e, f = self.to_choices(genotype)
        return f"64-41414-{a}_{b}{c}_{d}{e}{f}"

    def __repr__(self) -> str:
        return "TNB101MicroSpace()"


TNB101_MICRO = register_space_instance(TNB101MicroSpace(), replace=True)  # replace: a module reload re-registers
