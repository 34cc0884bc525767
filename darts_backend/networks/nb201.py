"""The discrete NB201 network built from an NB201 genotype (sizes: `darts_backend.networks.counting`)."""

from __future__ import annotations

import torch
from torch import nn

from darts_backend.ops import ResNetBasicBlock, create_op
from nasspace.nb201 import NB201_EDGES, NB201Genotype
from darts_backend.errors import ConfigError

__all__ = ["NB201Cell", "NB201Network"]


class NB201Cell(nn.Module):
    """A discrete NB201 cell: node j = sum over i < j of op_{i,j}(node i); the output is node 3.

    `none` edges are not built (they contribute zero); a node with only `none` inputs is zeros.
    """

    def __init__(self, genotype: NB201Genotype, C: int, *, affine: bool = True):
        super().__init__()
        self.genotype = genotype
        self.edge_keys: list[tuple[int, int, str]] = []
        self.edges = nn.ModuleDict()
        for (src, dst), op in zip(NB201_EDGES, genotype.ops):
            if op == "none":
                continue
            key = f"{src}_{dst}"
            self.edges[key] = create_op(op, C, C, 1, affine)
            self.edge_keys.append((src, dst, key))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) -> (B, C, H, W)``."""
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for src, dst, key in self.edge_keys:
            source = nodes[src]
            if source is None:  # every input of `src` was `none`
                source = torch.zeros_like(x)
                nodes[src] = source
            out = self.edges[key](source)
            current = nodes[dst]
            nodes[dst] = out if current is None else current + out
        result = nodes[3]
        return torch.zeros_like(x) if result is None else result


class NB201Network(nn.Module):
    """The NB201 macro network around one genotype.

    Stem conv3x3+BN; three stages of `N` cells with C, 2C, 4C channels separated by stride-2 ResNet
    basic blocks; BN-ReLU, global average pool, linear classifier.

    Args:
        genotype: the cell, used at every cell position.
        C: channels of the first stage.
        N: cells per stage.
        num_classes: classifier outputs.
    """

    def __init__(self, genotype: NB201Genotype, *, C: int = 16, N: int = 5, num_classes: int = 10):
        super().__init__()
        if not isinstance(genotype, NB201Genotype):
            raise ConfigError(f"expected an NB201Genotype, got {type(genotype).__name__}")
        if C < 1 or N < 1 or num_classes < 1:
            raise ConfigError(f"C, N and num_classes must be positive, got C={C}, N={N}, num_classes={num_classes}")
        self.genotype = genotype
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers: list[nn.Module] = []
        c = C
        for stage in range(3):
            if stage > 0:
                layers.append(ResNetBasicBlock(c, 2 * c, stride=2))
                c *= 2
            layers.extend(NB201Cell(genotype, c) for _ in range(N))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W) -> (B, num_classes)`` logits."""
        out = self.lastact(self.cells(self.stem(x)))
        return self.classifier(self.global_pool(out).flatten(1))
