"""Per-cell proxy scores on disk: one JSON file per space, proxy and setting.

A file ``<cache_dir>/zero-cost/<space>/<proxy>-<digest>.json`` holds ``{"format_version", "settings",
"scores": {cell string: value or null}}``; ``digest`` hashes the settings
(`darts_backend.evaluate.ZeroCostScorer.settings`), and the settings are stored too and checked on
open. Writes are atomic (temp file + rename) and batched in time (`flush_seconds`), so an interrupted
pass loses at most that much work and resumes from what the file holds. A flush merges: under an
exclusive lock on ``<file>.lock`` it reads what the file holds now, adds this cache's scores and
writes the union (this cache also learns the others' scores), so several passes over one cache
file (for example ``darts-backend zc --all`` twice, one with the cells in another order) share their
work instead of overwriting each other's. Scores never include labels:
the settings name the images by digest only. A NaN score (undefined proxy) is stored as ``null``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from nasspace.atomic import write_json_atomic
from darts_backend.errors import ConfigError

__all__ = ["ProxyCache", "default_cache_dir", "settings_digest"]

FORMAT_VERSION = 1


def default_cache_dir() -> Path:
    """``$CRLSO_CACHE_DIR``, else ``~/.cache/crlso`` (the cache the latent model's pre-training uses)."""
    return Path(os.environ.get("CRLSO_CACHE_DIR", Path.home() / ".cache" / "crlso"))


def settings_digest(settings: dict[str, Any]) -> str:
    """16 hex digits of the SHA-256 of the settings' sorted JSON."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


class ProxyCache:
    """The scores of one proxy under one setting, read from and written to one file.

    Args:
        path: the file (created on the first flush).
        settings: what the scores depend on; must equal the file's when it exists.
        flush_seconds: `put` writes the file when the last write is older than this (0: every put).

    Raises:
        ValueError: the file exists but is not a cache file of these settings.
    """

    def __init__(self, path: str | Path, settings: dict[str, Any], *, flush_seconds: float = 30.0):
        self.path = Path(path)
        self.settings = json.loads(json.dumps(settings))  # plain JSON data, as it will be read back
        self.flush_seconds = flush_seconds
        self._scores: dict[str, float | None] = {}
        self._dirty = False
        self._last_flush = time.monotonic()
        self._scores = self._read_file()

    def _read_file(self) -> dict[str, float | None]:
        """The scores the file holds now ({} when there is no file yet)."""
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read proxy cache {self.path}: {exc}; delete it to start over") from None
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION or "scores" not in data:
            raise ConfigError(f"{self.path} is not a proxy cache file (format_version {FORMAT_VERSION})")
        if data.get("settings") != self.settings:
            raise ConfigError(f"{self.path} holds scores of other settings ({data.get('settings')}); "
                              f"expected {self.settings}")
        return dict(data["scores"])

    @classmethod
    def open(cls, cache_dir: str | Path, settings: dict[str, Any], *, flush_seconds: float = 30.0) -> "ProxyCache":
        """The cache file of `settings` (which name ``space`` and ``proxy``) under `cache_dir`."""
        path = Path(cache_dir) / "zero-cost" / settings["space"] / f"{settings['proxy']}-{settings_digest(settings)}.json"
        return cls(path, settings, flush_seconds=flush_seconds)

    def __len__(self) -> int:
        return len(self._scores)

    def __contains__(self, key: str) -> bool:
        return key in self._scores

    def get(self, key: str) -> float | None:
        """The score of cell `key` (NaN if it was undefined), or None when not cached."""
        if key not in self._scores:
            return None
        value = self._scores[key]
        return math.nan if value is None else float(value)

    def put(self, key: str, value: float) -> None:
        """Record the score of cell `key`; the file is written when `flush_seconds` have passed."""
        self._scores[key] = None if math.isnan(value) else float(value)
        self._dirty = True
        if time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """If anything changed: merge with what the file holds now and write the union (atomically, locked)."""
        if not self._dirty:
            return
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:  # closing releases the lock
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            merged = {**self._read_file(), **self._scores}
            write_json_atomic(self.path, {"format_version": FORMAT_VERSION, "settings": self.settings,
                                          "scores": merged}, indent=None, sort_keys=False)
        self._scores = merged
        self._dirty = False
        self._last_flush = time.monotonic()
