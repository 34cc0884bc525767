"""What the report's sections share: its options (`ReportOptions`), the status callback and JSON readers."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ReportOptions", "Status"]


@dataclass(frozen=True)
class ReportOptions:
    """What the report computes beyond reading files.

    Attributes:
        latent: draw the latent map and predicted-vs-true sections (needs the cached VAE).
        train_model: pre-train the VAE when it is not cached (minutes); otherwise skip with a note.
        cache_dir: cache of pre-trained models (default: the run's own ``cache_dir`` option, else
            ``$CRLSO_CACHE_DIR`` or ``~/.cache/crlso``).
        data_dir: benchmark files (default: the run's ``data_dir``).
        map_points: cells drawn on the latent map (a seeded subset; 0 = all).
        seed: seeds the subset and the predictor's initialisation.
        progress: a one-line status on stderr naming the step being computed (the latent sections take
            tens of seconds: every cell is featurized and encoded).
    """

    latent: bool = True
    train_model: bool = False
    cache_dir: str | None = None
    data_dir: str | None = None
    map_points: int = 0
    seed: int = 0
    progress: bool = False


Status = Callable[[str], None]
"""Names the step now running (`crlso.report.build`'s one-line status)."""


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip().endswith("}")]
