"""Parameter and FLOP counts of any network (the size axis of every search and set).

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
from darts_backend.errors import ConfigError

__all__ = ["count_parameters", "count_flops"]


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
        raise ConfigError(f"unknown FLOP convention {convention!r}; valid: {', '.join(_CONVENTIONS)}")
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
