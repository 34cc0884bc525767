"""Discrete networks built from genotypes, with parameter and FLOP counts.

Counting: parameters in millions, every parameter counted (classifier and BN affine included); this
matches NASLib's ``zc_nasbench201.json`` exactly on all 491 cells. FLOPs in millions for one image, two
conventions:

* ``"macs"``: multiply-adds of convolutions (``k*k*C_in*C_out/groups`` per output position), linear
  layers (``in*out`` + bias) and average pooling (``k*k`` per output element).
* ``"naslib"`` (default): what NASLib's file lists. Convolutions and average pooling as above, linear
  layers without the bias term, plus 2 per element for each BatchNorm, 1 per element for each ReLU
  and ``C*(H+1)*(W+1)`` for the global average pool. The last term was found by fitting the residual
  (it is exact at 32x32 and 16x16); with it all 491 entries match for cifar10, cifar100 and
  ImageNet16-120 (C=16, N=5, 32x32 or 16x16 input).
"""

from __future__ import annotations

import torch
from torch import nn

from darts_backend.ops import ResNetBasicBlock, create_op
from nasspace.nb201 import NB201_EDGES, NB201Genotype

__all__ = ["NB201Cell", "NB201Network", "count_parameters", "count_flops"]


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
            raise ValueError(f"expected an NB201Genotype, got {type(genotype).__name__}")
        if C < 1 or N < 1 or num_classes < 1:
            raise ValueError(f"C, N and num_classes must be positive, got C={C}, N={N}, num_classes={num_classes}")
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


def count_parameters(model: nn.Module) -> float:
    """All parameters of `model` in millions (NB201 convention)."""
    return sum(p.numel() for p in model.parameters()) / 1e6


def count_flops(model: nn.Module, input_size: tuple[int, int, int] = (3, 32, 32), *,
                convention: str = "naslib") -> float:
    """Floating-point operations of one forward pass for one image, in millions.

    Args:
        model: any module; counted are Conv2d, Linear, AvgPool2d, AdaptiveAvgPool2d, BatchNorm2d, ReLU.
        input_size: ``(C, H, W)`` of the image.
        convention: ``"naslib"`` or ``"macs"`` (see the module docstring).

    Raises:
        ValueError: unknown convention.
    """
    if convention not in _CONVENTIONS:
        raise ValueError(f"unknown FLOP convention {convention!r}; valid: {', '.join(_CONVENTIONS)}")
    naslib = convention == "naslib"
    total = 0.0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        total += _module_flops(module, inputs[0], output, naslib)

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, _COUNTED)]
    was_training = model.training
    try:
        model.eval()
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        with torch.no_grad():
            model(torch.zeros(1, *input_size, device=device))
    finally:
        for handle in hooks:
            handle.remove()
        model.train(was_training)
    return total / 1e6


_CONVENTIONS = ("naslib", "macs")
_COUNTED = (nn.Conv2d, nn.Linear, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.BatchNorm2d, nn.ReLU)


def _module_flops(module: nn.Module, x: torch.Tensor, out: torch.Tensor, naslib: bool) -> float:
    """FLOPs of one module call on a batch of one image (see the module docstring)."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        positions = out.shape[2] * out.shape[3]
        flops = kh * kw * module.in_channels * module.out_channels / module.groups * positions
        return flops + (module.out_channels * positions if module.bias is not None and not naslib else 0)
    if isinstance(module, nn.Linear):
        bias = module.out_features if module.bias is not None and not naslib else 0
        return module.in_features * module.out_features + bias
    if isinstance(module, nn.AvgPool2d):
        k = module.kernel_size
        kh, kw = (k, k) if isinstance(k, int) else k
        return kh * kw * out[0].numel()
    if not naslib:
        return 0.0
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return x.shape[1] * (x.shape[2] + 1) * (x.shape[3] + 1)
    if isinstance(module, nn.BatchNorm2d):
        return 2 * out[0].numel()
    return out[0].numel()  # ReLU
