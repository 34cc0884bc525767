"""Zero-cost proxy scores as free input features of the ranking model, read from proxy cache files.

A proxy cache file (written by ``darts-backend zc ... --out FILE``) is JSON:
``{"format_version": 1, "settings": {"space", "proxy", ...}, "scores": {cell string: value or null}}``.
It is read by `crlso.oracles.zero_cost.read_proxy_file` as plain JSON (crlso does not import darts_backend). Proxies cost no query and hold
no label, so the B2 protocol allows them as unlabelled information.

Features are ``sign(x) * log1p(|x|)`` of each proxy (monotone, so a forest splits on them exactly as
on the raw scores, and synflow's 1e37 stays finite in float32); an undefined score (``null``) is
`MISSING`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crlso.oracles.zero_cost import read_proxy_file
from crlso.errors import InputError

__all__ = ["ProxyFeatures", "MissingProxy", "read_proxy_files", "MISSING"]

MISSING = -1.0e6


class MissingProxy(InputError):
    """A cell has no score in the proxy files."""


@dataclass(frozen=True)
class ProxyFeatures:
    """The scores of ``names`` (one proxy each) of every cell the files share, keyed by cell string."""

    space: str
    names: tuple[str, ...]
    values: dict[str, tuple[float, ...]]
    sources: tuple[str, ...]

    def matrix(self, keys: Sequence[str]) -> np.ndarray:
        """``(len(keys), len(names))`` features of the cells ``keys`` (see the module doc).

        Raises:
            MissingProxy: a cell has no score in the files (names the first such cell and the files).
        """
        missing = [key for key in keys if key not in self.values]
        if missing:
            raise MissingProxy(f"{len(missing)} cell(s) have no proxy score in {', '.join(self.sources)} "
                           f"(first: {missing[0]}); compute them with darts-backend zc --cells FILE")
        raw = np.asarray([self.values[key] for key in keys], dtype=np.float64).reshape(len(keys), len(self.names))
        out = np.sign(raw) * np.log1p(np.abs(raw))
        return np.where(np.isnan(raw), MISSING, out).astype(np.float32)


def read_proxy_files(paths: Sequence[str | Path], *, space: str) -> ProxyFeatures:
    """The proxies of ``paths`` (one proxy per file) on the cells every file scores.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: a file is not a proxy cache file, is of another space, repeats a proxy, or the
            files share no cell.
    """
    if not paths:
        raise InputError("no proxy file given")
    names: list[str] = []
    tables: list[dict[str, float]] = []
    for path in map(Path, paths):
        file_space, proxy, scores = read_proxy_file(path)
        if file_space != space:
            raise InputError(f"{path} holds {file_space!r} proxy scores; the model is for {space!r}")
        if proxy in names:
            raise InputError(f"{path} repeats proxy {proxy!r}; give one file per proxy")
        names.append(proxy)
        tables.append(scores)
    shared = set(tables[0]).intersection(*tables[1:])
    if not shared:
        raise InputError(f"the proxy files {', '.join(map(str, paths))} share no cell")
    values = {key: tuple(table[key] for table in tables) for key in sorted(shared)}
    return ProxyFeatures(space, tuple(names), values, tuple(str(p) for p in paths))
