"""The architecture-weight mixing runs in float32 under autocast.

Under bf16 autocast the candidate ops (convolutions) run in bf16, but the alpha gradient is a sum over
every position of ``<dL/d node, op output>``: a small number left after much cancellation, which bf16
products and bf16 partial sums blur. So the supernets upcast the op outputs before they are weighted
and summed, and compute that weighted sum (and the BN whose scale carries an NB201 conv op's weight)
with autocast off. The next op casts the float32 node back to bf16 itself.

Measured on CPU with bf16 autocast, NB201 C=16, N=5, batch 64 of CIFAR-10 training images, cosine of
the bf16 alpha gradient with the fp32 one at initialisation: see ``darts_backend.runs.precision``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

__all__ = ["mixing_in_fp32", "fp32_region", "fp32_mixing"]

_FP32_MIXING = [True]


def mixing_in_fp32(x: torch.Tensor) -> bool:
    """True when autocast is on for `x`'s device (and `fp32_mixing` has not turned the upcast off)."""
    return _FP32_MIXING[0] and torch.is_autocast_enabled(x.device.type)


@contextlib.contextmanager
def fp32_mixing(enabled: bool) -> Any:
    """Turn the float32 mixing on or off inside the block (off: the mixing runs in the autocast dtype, as
    before issue 31). For the measurement that shows what the upcast buys; not thread-safe."""
    previous = _FP32_MIXING[0]
    _FP32_MIXING[0] = enabled
    try:
        yield
    finally:
        _FP32_MIXING[0] = previous


def fp32_region(x: torch.Tensor, enabled: bool) -> contextlib.AbstractContextManager[Any]:
    """Autocast off on `x`'s device when `enabled` (a no-op otherwise)."""
    return torch.autocast(x.device.type, enabled=False) if enabled else contextlib.nullcontext()
