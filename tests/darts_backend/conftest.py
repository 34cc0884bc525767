"""Tiny CPU fixtures for darts_backend: C=4, N=1 supernets and 8x8 synthetic batches."""

from __future__ import annotations

import sys
from typing import Any

import pytest
import torch
from torch.overrides import TorchFunctionMode

from darts_backend.data import synthetic_images
from darts_backend.supernets import NB201SearchNetwork


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run faster on one thread, and far faster when other work shares the CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_network() -> NB201SearchNetwork:
    return NB201SearchNetwork(C=4, N=1, num_classes=10, generator=torch.Generator().manual_seed(0))


def make_batch(seed: int, n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x (n, 3, 8, 8) float, y (n,))`` from synthetic images."""
    data = synthetic_images(n, size=8, generator=torch.Generator().manual_seed(seed))
    return data.images.float() / 255.0, data.labels


@pytest.fixture
def batch_factory():
    """`make_batch(seed, n=16)`."""
    return make_batch


@pytest.fixture
def batches() -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Three different batches: train, valid, another."""
    return make_batch(1), make_batch(2), make_batch(3)


_SYNCING = frozenset({"item", "__bool__", "__int__", "__float__", "__index__", "tolist", "numpy", "cpu", "nonzero",
                      "masked_select", "unique", "_local_scalar_dense"})
"""Tensor calls that make the host wait for an accelerator (they need a device value on the host, or an
output size only the device knows)."""


def _host_index(index: Any) -> bool:
    """Indexing with a Python list (copied to the device on every call) or a bool mask (data-dependent size)."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, list) or (isinstance(p, torch.Tensor) and p.dtype == torch.bool) for p in parts)


class SyncCounter(TorchFunctionMode):
    """A CPU proxy of CUDA's sync debug mode: records every tensor call that would sync a device.

    Calls made inside `torch.optim` are left out: optimizers keep their step counters on the host by
    design (``.item()`` there reads host memory).
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        name = getattr(func, "__name__", "")
        indexing = name in ("__getitem__", "__setitem__") and len(args) > 1 and _host_index(args[1])
        if (name in _SYNCING or indexing) and not _inside_optimizer():
            caller = sys._getframe(1)
            self.calls.append(f"{name} at {caller.f_code.co_filename}:{caller.f_lineno}")
        return func(*args, **(kwargs or {}))


def _inside_optimizer() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if "torch/optim/" in frame.f_code.co_filename.replace("\\", "/"):
            return True
        frame = frame.f_back
    return False


@pytest.fixture
def sync_counter() -> SyncCounter:
    """A fresh `SyncCounter`; use it as a context manager around the code under test."""
    return SyncCounter()
