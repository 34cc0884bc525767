"""Discrete DARTS-space networks built from ``darts`` or ``flex`` genotypes, with size and FLOPs.

A ``flex`` genotype fixes one cell per position (its own topology and node count); a ``darts``
genotype is spread over `reduction_layout` of the requested number of cells. Cell ``c`` reads the
outputs of cells ``c-2`` and ``c-1`` (1x1 ReLUConvBN, or a factorized stride-2 reduce after a
reduction), node ``j`` sums its ops over its pairs, and the cell output concatenates all its nodes,
so a cell with ``n`` nodes emits ``n * C`` channels. Stem: conv3x3 to ``stem_multiplier * C`` + BN.
Head: global average pool + linear. No auxiliary head, no drop-path (evaluation-training extras
left out on purpose; the CPU-sized runs do not need them).

`genotype_cost` gives parameters and FLOPs in millions with `darts_backend.networks.counting.count_parameters`
and `count_flops` (``"macs"`` convention by default here: the usual DARTS "FLOPs" = multiply-adds).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from darts_backend.networks.counting import count_flops, count_parameters
from darts_backend.ops import FactorizedReduce, ReLUConvBN, create_op
from nasspace.darts import DARTSGenotype
from nasspace.flex import FlexCell, FlexGenotype, FlexSpace, reduction_layout
from nasspace.space import Genotype
from darts_backend.errors import ConfigError

__all__ = ["DartsCell", "DartsNetwork", "GenotypeCost", "as_flex", "genotype_cost"]


def as_flex(genotype: Genotype, num_cells: int = 8) -> FlexGenotype:
    """`genotype` as a flex genotype (a ``darts`` one is spread over ``reduction_layout(num_cells)``).

    Raises:
        ValueError: neither a darts nor a flex genotype.
    """
    if isinstance(genotype, FlexGenotype):
        return genotype
    if isinstance(genotype, DARTSGenotype):
        return FlexSpace().from_darts(genotype, reduction_layout(num_cells))
    raise ConfigError(f"expected a darts or flex genotype, got {type(genotype).__name__}")


class DartsCell(nn.Module):
    """One discrete cell.

    Args:
        cell: the flex cell (type and nodes).
        C_pp, C_p: channels of the outputs of cells ``c-2`` and ``c-1``.
        C: channels of each node.
        reduction_prev: cell ``c-1`` halved the resolution.
    """

    def __init__(self, cell: FlexCell, C_pp: int, C_p: int, C: int, *, reduction_prev: bool):
        super().__init__()
        self.cell = cell
        reduction = cell.cell_type == "reduce"
        self.pre0: nn.Module = FactorizedReduce(C_pp, C, True) if reduction_prev else ReLUConvBN(C_pp, C, 1, 1, 0, True)
        self.pre1 = ReLUConvBN(C_p, C, 1, 1, 0, True)
        self.pairs: list[list[tuple[int, str]]] = []
        self.ops = nn.ModuleDict()
        for j, node in enumerate(cell.nodes):
            keys = []
            for op, i in node:
                key = f"{j}_{op}_{i}"
                self.ops[key] = create_op(op, C, C, 2 if reduction and i < 2 else 1, True)
                keys.append((i, key))
            self.pairs.append(keys)
        self.out_channels = cell.k * C

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        """``(B, C_pp, H0, W0), (B, C_p, H, W) -> (B, k * C, H', W')``."""
        states = [self.pre0(s0), self.pre1(s1)]
        for keys in self.pairs:
            out = self.ops[keys[0][1]](states[keys[0][0]])
            for i, key in keys[1:]:
                out = out + self.ops[key](states[i])
            states.append(out)
        return torch.cat(states[2:], dim=1)


class DartsNetwork(nn.Module):
    """A discrete network with one cell per genotype position.

    Args:
        genotype: ``flex`` (its own cells) or ``darts`` (spread over ``reduction_layout(num_cells)``).
        C: node channels of the first stage (doubled at each reduction cell).
        num_cells: cells, used only for a ``darts`` genotype.
        num_classes: classifier outputs.
        stem_multiplier: stem width in units of C.
    """

    def __init__(self, genotype: Genotype, *, C: int = 16, num_cells: int = 8, num_classes: int = 10,
                 stem_multiplier: int = 3):
        super().__init__()
        if C < 1 or num_classes < 1 or stem_multiplier < 1:
            raise ConfigError(f"C, num_classes and stem_multiplier must be positive, got {C}, {num_classes}, {stem_multiplier}")
        self.genotype = as_flex(genotype, num_cells)
        c_stem = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(3, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem))
        C_pp, C_p, c_curr, reduction_prev = c_stem, c_stem, C, False
        self.cells = nn.ModuleList()
        for cell in self.genotype.cells:
            if cell.cell_type == "reduce":
                c_curr *= 2
            block = DartsCell(cell, C_pp, C_p, c_curr, reduction_prev=reduction_prev)
            self.cells.append(block)
            C_pp, C_p, reduction_prev = C_p, block.out_channels, cell.cell_type == "reduce"
        layout = self.genotype.layout
        self.stage_ends = [c - 1 for c, t in enumerate(layout) if t == "reduce" and c > 0] + [len(layout) - 1]
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_p, num_classes)

    def forward(self, x: torch.Tensor, *, return_features: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """``(B, 3, H, W) -> (B, num_classes)`` logits (and the stage-end cell outputs if asked)."""
        if x.device.type == "cpu":  # channels-last-strided CPU input crashes small depthwise conv backward (torch 2.13)
            x = x.contiguous()
        s0 = s1 = self.stem(x)
        features = []
        for c, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if return_features and c in self.stage_ends:
                features.append(s1)
        logits = self.classifier(self.global_pool(s1).flatten(1))
        return (logits, features) if return_features else logits

    def stage_end_names(self) -> list[str]:
        """Module names whose outputs are the stage-end features (for `distill.FeatureTeacher` hooks)."""
        return [f"cells.{c}" for c in self.stage_ends]


@dataclass(frozen=True)
class GenotypeCost:
    """Size of a genotype's network: parameters and FLOPs in millions (one image)."""

    params: float
    flops: float


def genotype_cost(genotype: Genotype, *, C: int = 16, num_cells: int = 8, num_classes: int = 10,
                  input_size: tuple[int, int, int] = (3, 32, 32), stem_multiplier: int = 3,
                  convention: str = "macs") -> GenotypeCost:
    """Parameters and FLOPs (millions) of `DartsNetwork(genotype, ...)`, built on CPU and discarded."""
    net = DartsNetwork(genotype, C=C, num_cells=num_cells, num_classes=num_classes, stem_multiplier=stem_multiplier)
    return GenotypeCost(count_parameters(net), count_flops(net, input_size, convention=convention))

