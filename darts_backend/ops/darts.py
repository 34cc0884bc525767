"""The DARTS candidate ops, registered in the shared op registry (`darts_backend.ops.registry`).

DARTS has 8 candidates: ``none, max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3,
sep_conv_5x5, dil_conv_3x3, dil_conv_5x5``. Three names are already registered by `darts_backend.ops.nb201`
for NB201 (``none``, ``skip_connect``, ``avg_pool_3x3``); their NB201 factories coincide with the
DARTS definitions wherever a DARTS cell uses them (``C_in == C_out``: zeros of the output shape;
identity, or `FactorizedReduce` at stride 2; 3x3 average pooling without counting the padding), so
they are reused, not registered twice. Only the five missing ops are added here. A factory that some
other module registered first under one of those names is kept (registration is idempotent here),
so importing this module never raises.
"""

from __future__ import annotations

from torch import nn

from darts_backend.ops.nb201 import ReLUConvBN
from darts_backend.ops.registry import OpFactory, list_ops, register_op

__all__ = ["SepConv", "DilConv", "MaxPool", "DARTS_OP_NAMES", "PARAMETER_FREE_OPS"]

DARTS_OP_NAMES: tuple[str, ...] = (
    "none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
    "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5",
)
PARAMETER_FREE_OPS: frozenset[str] = frozenset({"none", "max_pool_3x3", "avg_pool_3x3", "skip_connect"})
"""Ops without weights when ``C_in == C_out`` (``skip_connect`` has weights at stride 2)."""


class DilConv(nn.Sequential):
    """ReLU -> depthwise dilated conv (stride) -> pointwise conv -> BN.

    Shapes: ``(B, C_in, H, W) -> (B, C_out, H/stride, W/stride)``.
    """

    def __init__(self, C_in: int, C_out: int, kernel: int, stride: int, padding: int, dilation: int,
                 affine: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_in, kernel, stride=stride, padding=padding, dilation=dilation,
                      groups=C_in, bias=False),
            nn.Conv2d(C_in, C_out, 1, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """Two stacked `DilConv` blocks with dilation 1 (the first carries the stride).

    Shapes: ``(B, C_in, H, W) -> (B, C_out, H/stride, W/stride)``.
    """

    def __init__(self, C_in: int, C_out: int, kernel: int, stride: int, padding: int, affine: bool = True):
        super().__init__(
            DilConv(C_in, C_in, kernel, stride, padding, 1, affine),
            DilConv(C_in, C_out, kernel, 1, padding, 1, affine),
        )


class MaxPool(nn.Module):
    """3x3 max pooling, preceded by a 1x1 ReLUConvBN only when the channel count changes."""

    def __init__(self, C_in: int, C_out: int, stride: int, affine: bool = True):
        super().__init__()
        self.preprocess = None if C_in == C_out else ReLUConvBN(C_in, C_out, 1, 1, 0, affine)
        self.pool = nn.MaxPool2d(3, stride=stride, padding=1)

    def forward(self, x):  # type: ignore[no-untyped-def]
        """``(B, C_in, H, W) -> (B, C_out, H/stride, W/stride)``."""
        return self.pool(x if self.preprocess is None else self.preprocess(x))


_NEW_OPS: dict[str, OpFactory] = {
    "max_pool_3x3": lambda C_in, C_out, stride, affine: MaxPool(C_in, C_out, stride, affine),
    "sep_conv_3x3": lambda C_in, C_out, stride, affine: SepConv(C_in, C_out, 3, stride, 1, affine),
    "sep_conv_5x5": lambda C_in, C_out, stride, affine: SepConv(C_in, C_out, 5, stride, 2, affine),
    "dil_conv_3x3": lambda C_in, C_out, stride, affine: DilConv(C_in, C_out, 3, stride, 2, 2, affine),
    "dil_conv_5x5": lambda C_in, C_out, stride, affine: DilConv(C_in, C_out, 5, stride, 4, 2, affine),
}

for _name, _factory in _NEW_OPS.items():
    if _name not in list_ops():
        register_op(_name)(_factory)
