"""Run files of darts_backend: JSON results and checkpoints (atomic, through `nasspace.atomic`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from nasspace.atomic import atomic_path, write_json_atomic

__all__ = ["write_json", "append_jsonl", "save_checkpoint", "load_checkpoint"]


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
    """Load a checkpoint written by `save_checkpoint` (``weights_only=True``)."""
    return torch.load(path, map_location=map_location, weights_only=True)
