"""Run files of darts_backend: JSON results and checkpoints (atomic, through `nasspace.atomic`)."""

from __future__ import annotations

import contextlib
import functools
import json
import pickle
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from nasspace.atomic import atomic_path, folder_lock, write_json_atomic
from darts_backend.errors import MissingFileError, NotAFolderError, RunFolderError

__all__ = ["write_json", "append_jsonl", "save_checkpoint", "load_checkpoint", "checkpoint_errors", "locked_run"]


def write_json(path: str | Path, data: Any) -> None:
    """Write `data` as indented JSON to `path`, atomically."""
    write_json_atomic(path, data, sort_keys=False)


def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    """Append one JSON line to `path` and flush it."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """``torch.save`` `state` (tensors and plain data only) to `path`, atomically."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path, map_location: torch.device | str = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by `save_checkpoint` (``weights_only=True``).

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: the file is damaged, truncated, or not a checkpoint dict (one line naming the path).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"no checkpoint at {path}")
    with checkpoint_errors(path), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's pickle-protocol notes on a foreign file; the error says it all
        state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, dict):
        raise RunFolderError(f"{path} is not a darts-backend checkpoint (it holds a {type(state).__name__})")
    return state


@contextlib.contextmanager
def checkpoint_errors(path: str | Path) -> Iterator[None]:
    """Turn what a damaged or foreign checkpoint raises while it is read or restored (unpickling,
    truncation, a missing key, a size mismatch) into one ``ValueError`` naming `path`."""
    try:
        yield
    except (pickle.UnpicklingError, EOFError, RuntimeError, KeyError, IndexError, TypeError, AttributeError,
            UnicodeDecodeError, json.JSONDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise RunFolderError(f"{path} is damaged or not a checkpoint of this run ({type(exc).__name__}: {first[:200]})") from None


def locked_run(run: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate ``run(config, out_dir, ...)`` to hold the run folder's lock while it runs.

    A second process writing into the same folder gets `nasspace.errors.FolderBusy` before any work.
    ``out_dir`` naming a file is a ``NotADirectoryError`` naming it. A folder created only to be
    locked is removed again when the run fails before writing anything into it.
    """

    @functools.wraps(run)
    def locked(config: Any, out_dir: str | Path, *args: Any, **kwargs: Any) -> Any:
        folder = Path(out_dir)
        if folder.exists() and not folder.is_dir():
            raise NotAFolderError(f"--out {out_dir} is a file, not a run folder")
        created = not folder.exists()
        try:
            with folder_lock(folder, what="darts-backend run"):
                return run(config, out_dir, *args, **kwargs)
        except BaseException:
            if created and [p.name for p in folder.iterdir()] == [".lock"]:
                (folder / ".lock").unlink()
                folder.rmdir()
            raise

    return locked
