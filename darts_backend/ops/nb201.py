"""NB201's five candidate ops (``none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3``) and
NB201's building blocks, registered in `darts_backend.ops.registry`.
"""

from __future__ import annotations

import torch
from torch import nn

from darts_backend.ops.registry import register_op

__all__ = ["Zero", "ReLUConvBN", "FactorizedReduce", "Pooling", "ResNetBasicBlock"]


class Zero(nn.Module):
    """The `none` op: zeros of the output shape ``(B, C_out, H/stride, W/stride)``."""

    def __init__(self, C_in: int, C_out: int, stride: int):
        super().__init__()
        self.C_out, self.stride = C_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, H, W) -> (B, C_out, H', W')`` of zeros."""
        b, _, h, w = x.shape
        return x.new_zeros(b, self.C_out, (h + self.stride - 1) // self.stride, (w + self.stride - 1) // self.stride)


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv (no bias) -> BatchNorm, NB201's convolution op."""

    def __init__(self, C_in: int, C_out: int, kernel: int, stride: int, padding: int, affine: bool,
                 track_running_stats: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(C_out, affine=affine, track_running_stats=track_running_stats),
        )


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset stride-2 1x1 convs (skip_connect with stride 2)."""

    def __init__(self, C_in: int, C_out: int, affine: bool):
        super().__init__()
        half = C_out // 2
        self.relu = nn.ReLU(inplace=False)
        self.conv_a = nn.Conv2d(C_in, half, 1, stride=2, bias=False)
        self.conv_b = nn.Conv2d(C_in, C_out - half, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, H, W) -> (B, C_out, H/2, W/2)`` (H, W even)."""
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_a(x), self.conv_b(x[:, :, 1:, 1:])], dim=1))


class Pooling(nn.Module):
    """3x3 average pooling, preceded by a 1x1 ReLUConvBN when the channel count changes."""

    def __init__(self, C_in: int, C_out: int, stride: int, affine: bool):
        super().__init__()
        self.preprocess = None if C_in == C_out else ReLUConvBN(C_in, C_out, 1, 1, 0, affine)
        self.pool = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, H, W) -> (B, C_out, H/stride, W/stride)``."""
        return self.pool(x if self.preprocess is None else self.preprocess(x))


class ResNetBasicBlock(nn.Module):
    """NB201's reduction block: two 3x3 ReLUConvBN (first with stride) plus avgpool+1x1 shortcut."""

    def __init__(self, C_in: int, C_out: int, stride: int = 2, affine: bool = True,
                 track_running_stats: bool = True):
        super().__init__()
        self.conv_a = ReLUConvBN(C_in, C_out, 3, stride, 1, affine, track_running_stats)
        self.conv_b = ReLUConvBN(C_out, C_out, 3, 1, 1, affine, track_running_stats)
        if stride == 2:
            self.downsample: nn.Module | None = nn.Sequential(
                nn.AvgPool2d(2, stride=2, padding=0), nn.Conv2d(C_in, C_out, 1, bias=False)
            )
        elif C_in != C_out:
            self.downsample = ReLUConvBN(C_in, C_out, 1, 1, 0, affine, track_running_stats)
        else:
            self.downsample = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, H, W) -> (B, C_out, H/stride, W/stride)``."""
        shortcut = x if self.downsample is None else self.downsample(x)
        return shortcut + self.conv_b(self.conv_a(x))


def _skip(C_in: int, C_out: int, stride: int, affine: bool) -> nn.Module:
    if stride == 1:
        return nn.Identity() if C_in == C_out else ReLUConvBN(C_in, C_out, 1, 1, 0, affine)
    return FactorizedReduce(C_in, C_out, affine)


register_op("none")(lambda C_in, C_out, stride, affine: Zero(C_in, C_out, stride))
register_op("skip_connect")(_skip)
register_op("nor_conv_1x1")(lambda C_in, C_out, stride, affine: ReLUConvBN(C_in, C_out, 1, stride, 0, affine))
register_op("nor_conv_3x3")(lambda C_in, C_out, stride, affine: ReLUConvBN(C_in, C_out, 3, stride, 1, affine))
register_op("avg_pool_3x3")(lambda C_in, C_out, stride, affine: Pooling(C_in, C_out, stride, affine))
