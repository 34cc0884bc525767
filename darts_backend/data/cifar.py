"""The official CIFAR-10 python archive (``cifar-10-python.tar.gz`` or its extracted folder).

The batches are Python pickles; they are read with an unpickler that only admits the few numpy
names the files need, so a tampered file cannot run code.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from darts_backend.data.images import ImageSet
from darts_backend.errors import DataError

__all__ = ["CIFAR10_CLASSES", "load_cifar10", "is_cifar10_archive"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_TEST = ("test_batch",)
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")


def _read_batch(raw: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        entry = _SafeUnpickler(io.BytesIO(raw), encoding="bytes").load()
        data = np.asarray(entry[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(entry[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, KeyError, ValueError, EOFError, TypeError) as exc:
        raise DataError(f"CIFAR-10 batch {name!r} is malformed: {exc}") from exc
    if len(labels) != len(data):
        raise DataError(f"CIFAR-10 batch {name!r} has {len(data)} images but {len(labels)} labels")
    return data, labels


def _batches(path: Path, names: tuple[str, ...]) -> list[tuple[bytes, str]]:
    if path.is_dir():
        root = path / "cifar-10-batches-py" if (path / "cifar-10-batches-py").is_dir() else path
        missing = [n for n in names if not (root / n).is_file()]
        if missing:
            raise DataError(f"{root} lacks CIFAR-10 batch files {missing}")
        return [((root / n).read_bytes(), n) for n in names]
    with tarfile.open(path) as tar:
        members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
        missing = [n for n in names if n not in members]
        if missing:
            raise DataError(f"{path} lacks CIFAR-10 batch files {missing}")
        out = []
        for n in names:
            handle = tar.extractfile(members[n])
            assert handle is not None  # regular file members always have a handle
            out.append((handle.read(), n))
        return out


def is_cifar10_archive(path: str | Path) -> bool:
    """True if `path` looks like the CIFAR-10 python archive or its extracted folder."""
    path = Path(path)
    if path.is_dir():
        return (path / "data_batch_1").is_file() or (path / "cifar-10-batches-py" / "data_batch_1").is_file()
    if path.is_file() and tarfile.is_tarfile(path):  # the archive's 8 files come first; an image tar is not read through
        with tarfile.open(path) as tar:
            for _, member in zip(range(_PROBE_MEMBERS), tar):
                if Path(member.name).name == "data_batch_1":
                    return True
    return False


_PROBE_MEMBERS = 32
"""Members of a tar read to recognise the CIFAR-10 archive (it holds 8 files and a folder)."""


def load_cifar10(path: str | Path, split: str = "train") -> ImageSet:
    """Load the ``train`` (50,000) or ``test`` (10,000) split of the CIFAR-10 python archive.

    Raises:
        ValueError: unknown split, or files missing or malformed.
    """
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r}; valid splits: train, test")
    batches = _batches(Path(path), _TRAIN if split == "train" else _TEST)
    parts = [_read_batch(raw, name) for raw, name in batches]
    images = torch.from_numpy(np.concatenate([p[0] for p in parts]))
    labels = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    return ImageSet(images, labels, CIFAR10_CLASSES)
