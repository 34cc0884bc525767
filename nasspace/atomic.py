"""Atomic file writes: a temporary file beside the target, renamed over it only when complete.

Readers see the old file or the whole new one, never a part; a failure leaves nothing behind.
The file gets the mode a plain ``open(path, "w")`` would give it: 0666 less the user's umask
(``mkstemp`` alone would leave it 0600, private, unlike every file written without it).
Every package writes results through this module (nasspace is the floor all of them import).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nasspace.errors import FolderBusy

__all__ = ["atomic_path", "write_bytes_atomic", "write_text_atomic", "write_json_atomic", "folder_lock", "current_umask"]


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it (``/proc/self/status``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit it replaces ``path``, else it is removed.

    Example:
        with atomic_path("out/model.pt") as tmp:
            torch.save(state, tmp)
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
    finally:
        os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:  # data on disk before the rename makes it visible
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    return write_bytes_atomic(path, text.encode())


def write_json_atomic(path: str | os.PathLike[str], data: Any, *, indent: int | None = 2, sort_keys: bool = True) -> Path:
    """``data`` as JSON (indented, sorted keys by default), written atomically."""
    return write_text_atomic(path, json.dumps(data, indent=indent, sort_keys=sort_keys) + "\n")


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str], *, what: str = "run") -> Iterator[Path]:
    """Hold an exclusive ``fcntl.flock`` on ``<folder>/.lock`` (folder created if needed) while the block runs.

    One writer per run folder: a second process gets `FolderBusy` at once instead of interleaving
    its writes. The lock is released when the block ends or its process dies (no stale locks).

    Raises:
        FolderBusy: another process holds the lock.
    """
    import fcntl

    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    lock_path = target / ".lock"
    with open(lock_path, "a") as handle:  # closing the file releases the lock
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusy(f"{target} is in use by another {what} (lock {lock_path}); wait for it or choose another --out") from None
        yield target
