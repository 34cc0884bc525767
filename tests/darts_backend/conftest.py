"""Tiny CPU fixtures for darts_backend: C=4, N=1 supernets and 8x8 synthetic batches."""

from __future__ import annotations

import pytest
import torch

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
