"""Shared fixtures: the real benchmark files, fetched once per session from the mirror; tests marked
``gpu`` are skipped when no CUDA device is present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nasspace.errors import DataError
from nasspace.fetch import DataStore

REPO = Path(__file__).resolve().parent.parent


def mirror_dir() -> Path | None:
    """``$CRLSO_MIRROR``, else ``../shared/data/mirror`` beside the checkout, if it exists."""
    candidate = Path(os.environ.get("CRLSO_MIRROR", REPO.parent / "shared" / "data" / "mirror"))
    return candidate if candidate.is_dir() else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every ``gpu``-marked test when torch sees no CUDA device."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in gpu_items:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def data_store() -> DataStore:
    """A DataStore holding every default benchmark file (skips when they cannot be had)."""
    store = DataStore()
    try:
        for name in store.default_names():
            store.fetch(name, mirror=mirror_dir())
    except DataError as exc:
        pytest.skip(f"benchmark files unavailable: {exc}")
    return store


@pytest.fixture(scope="session")
def nb201_cifar10(data_store: DataStore):
    from nasspace.benchmarks.nb201 import NB201Table

    return NB201Table("cifar10", store=data_store)
