"""Torch files that check themselves: one clear error for a damaged or foreign file, and caches
that carry a sha256 beside them.

- `save_torch_atomic`: ``torch.save`` written atomically (through `nasspace.atomic.atomic_path`).
- `load_torch`: ``torch.load(..., weights_only=True)`` whose every failure on a bad file (truncated,
  not a torch file, a pickle with code in it, a flipped byte) is one `CorruptFile` naming the path.
- `save_torch_checked` / `load_torch_checked`: the file is written atomically and its sha256 is
  written beside it (``<name>.sha256``); loading recomputes it, so a flipped weight bit is caught
  instead of used. A file written before the sidecar existed is adopted when it loads (its sha256
  is written then).
"""

from __future__ import annotations

import hashlib
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

from nasspace.atomic import atomic_path, write_text_atomic
from crlso.errors import CheckpointError, MissingFileError

__all__ = ["CorruptFile", "save_torch_atomic", "load_torch", "save_torch_checked", "load_torch_checked", "checksum_path"]


def save_torch_atomic(path: str | Path, obj: Any) -> Path:
    """``torch.save(obj)`` written atomically (obj must load with ``weights_only=True``)."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


class CorruptFile(CheckpointError):
    """A torch file is damaged, truncated, not a torch file, or differs from the checksum stored beside it."""


def checksum_path(path: str | Path) -> Path:
    """Where the sha256 of ``path`` is kept: ``<path>.sha256``."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_torch(path: str | Path, *, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``.

    Raises:
        FileNotFoundError: no file at ``path``.
        CorruptFile: the file cannot be read as a weights-only torch file (names the path and the cause).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"no file at {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's pickle-protocol notes on a foreign file; the error says it all
            return torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, EOFError, RuntimeError, ValueError, KeyError, IndexError, AttributeError,
            TypeError, UnicodeDecodeError, MemoryError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CorruptFile(f"{path} is damaged or not a torch file of this project ({type(exc).__name__}: {first[:200]})") from None


def save_torch_checked(path: str | Path, obj: Any) -> Path:
    """``torch.save(obj)`` atomically, then its sha256 beside it."""
    path = save_torch_atomic(path, obj)
    write_text_atomic(checksum_path(path), _sha256(path) + "\n")
    return path


def load_torch_checked(path: str | Path, *, map_location: str | torch.device = "cpu") -> Any:
    """`load_torch` after checking the sha256 stored beside the file (adopting a file that has none).

    Raises:
        FileNotFoundError: no file at ``path``.
        CorruptFile: the file differs from its stored sha256, or cannot be read.
    """
    path = Path(path)
    sidecar = checksum_path(path)
    if not path.is_file():
        raise MissingFileError(f"no file at {path}")
    if sidecar.is_file():
        expected = sidecar.read_text().strip()
        if _sha256(path) != expected:
            raise CorruptFile(f"{path} differs from the sha256 stored in {sidecar.name}: the file was damaged")
        return load_torch(path, map_location=map_location)
    obj = load_torch(path, map_location=map_location)  # written before sidecars: adopt it if it loads
    try:
        write_text_atomic(sidecar, _sha256(path) + "\n")
    except OSError:
        pass
    return obj
