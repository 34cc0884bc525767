"""Atomic file writes for crlso: JSON and text through `nasspace.atomic`, plus torch checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from nasspace.atomic import atomic_path, write_json_atomic, write_text_atomic

__all__ = ["write_text_atomic", "write_json_atomic", "save_torch_atomic"]


def save_torch_atomic(path: str | Path, obj: Any) -> Path:
    """``torch.save(obj)`` written atomically (obj must load with ``weights_only=True``)."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)
