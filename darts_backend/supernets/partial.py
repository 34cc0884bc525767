"""PC-DARTS's two supernet options: partial channel connections and edge normalization.

Partial channels (Xu et al., PC-DARTS, ICLR 2020): a mixed edge sends only the first ``C / K`` channels
of its input through the candidate ops; the other ``C - C / K`` channels bypass the ops (max-pooled
2x2 on a stride-2 edge) and are concatenated after the op output, then the channels are shuffled
with ``K`` groups so that a different slice enters the ops of the next edge. The fixed first slice and
the shuffle are what the authors' public code does (their random-sampling variant is not used here),
so the forward pass draws no random numbers.

Edge normalization: each node weighs its incoming edges by ``softmax(beta)`` over those edges, one
beta per edge (per cell type in the DARTS space), so a node's output is a convex combination of its
edges instead of their sum.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from darts_backend.errors import ConfigError

__all__ = ["check_partial_channels", "split_channels", "merge_channels", "channel_shuffle", "segment_softmax"]


def check_partial_channels(k: int, widths: Sequence[int]) -> None:
    """Raise a ValueError unless ``k >= 1`` divides every channel width in `widths`."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ConfigError(f"partial_channels must be an integer >= 1, got {k!r}")
    bad = [c for c in widths if c % k]
    if bad:
        raise ConfigError(f"partial_channels={k} must divide every channel width of the supernet; "
                          f"{', '.join(map(str, sorted(set(bad))))} is not a multiple of {k}")


def split_channels(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, C, H, W)`` -> the op slice ``(B, C/k, H, W)`` and the bypass ``(B, C - C/k, H, W)``."""
    part = x.shape[1] // k
    return x[:, :part], x[:, part:]


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """``(B, C, H, W)``: channel ``g * C/groups + i`` moves to ``i * groups + g`` (groups of equal size)."""
    if groups == 1:
        return x
    b, c, h, w = x.shape
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


def merge_channels(op_out: torch.Tensor, bypass: torch.Tensor, k: int) -> torch.Tensor:
    """Concatenate the op output ``(B, C/k, H', W')`` and the bypass, then shuffle with `k` groups.

    A bypass larger than the op output (a stride-2 edge) is max-pooled 2x2 first (rounding up, as the
    stride-2 ops do). Returns ``(B, C, H', W')``.
    """
    if bypass.shape[-2:] != op_out.shape[-2:]:
        bypass = F.max_pool2d(bypass, 2, 2, ceil_mode=True)
    return channel_shuffle(torch.cat([op_out, bypass], dim=1), k)


def segment_softmax(betas: torch.Tensor, bounds: Sequence[tuple[int, int]],
                    mask: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax of ``betas (..., E)`` within each ``[lo, hi)`` segment of the last dimension.

    Args:
        betas: edge logits.
        bounds: contiguous segments covering ``0..E`` (one per node: its incoming edges).
        mask: optional bool of betas' shape; False entries get weight exactly 0 (a segment with no True
            entry is all zero, never NaN).

    Returns:
        Edge weights of betas' shape; each segment sums to 1 (or 0 when fully masked).
    """
    parts = []
    for lo, hi in bounds:
        seg = betas[..., lo:hi].float()
        if mask is None:
            parts.append(torch.softmax(seg, dim=-1))
        else:
            m = mask[..., lo:hi]
            parts.append(torch.softmax(seg.masked_fill(~m, -1e9), dim=-1) * m)
    return torch.cat(parts, dim=-1)
