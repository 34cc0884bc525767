"""Float32 architecture-weight mixing under autocast: an option, off by default, because it measured as buying
nothing.

Under bf16 autocast the candidate ops (convolutions) run in bf16, and so, by default, does the weighted sum
of their outputs. The alpha gradient is a sum over every position of ``<dL/d node, op output>``, a small
number left after much cancellation, so bf16 products and partial sums might blur it. With the float32
mixing on, the supernets upcast the op outputs before they are weighted and summed, and compute that
weighted sum (and the BN whose scale carries an NB201 conv op's weight) with autocast off; the next op
casts the float32 node back to bf16 itself. The softmax of the alphas is float32 either way.

What it buys (``python -m darts_backend.runs.precision``, CPU bf16 autocast, NB201 C=16, N=5, batch 64,
CIFAR-10 images, 10 seeds x 2 batches): at initialisation the bf16/fp32 alpha-gradient cosine is 0.978 on
average with it and 0.979 without (paired difference -0.0005, sd 0.017); after 40 training steps 1.000 either
way. What it costs: 1.21-1.23x the CPU time of a bf16 step at that size and 1.6x the peak memory (``darts-backend
bench --device cpu --cpu-bf16 --[no-]fp32-mixing``, two alternating pairs). So searches run
without it unless ``SearcherConfig.fp32_mixing`` asks for it; ``darts-backend gpu-check`` measures both on a GPU.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

__all__ = ["mixing_in_fp32", "fp32_region", "fp32_mixing"]

_FP32_MIXING = [False]


def mixing_in_fp32(x: torch.Tensor) -> bool:
    """True when the float32 mixing is on (`fp32_mixing`) and autocast is on for `x`'s device."""
    return _FP32_MIXING[0] and torch.is_autocast_enabled(x.device.type)


@contextlib.contextmanager
def fp32_mixing(enabled: bool) -> Any:
    """Turn the float32 mixing on or off inside the block (off, the default: the mixing runs in the autocast
    dtype). Searchers enter it around their autocast forward (`SearcherConfig.fp32_mixing`); not thread-safe."""
    previous = _FP32_MIXING[0]
    _FP32_MIXING[0] = enabled
    try:
        yield
    finally:
        _FP32_MIXING[0] = previous


def fp32_region(x: torch.Tensor, enabled: bool) -> contextlib.AbstractContextManager[Any]:
    """Autocast off on `x`'s device when `enabled` (a no-op otherwise)."""
    return torch.autocast(x.device.type, enabled=False) if enabled else contextlib.nullcontext()
