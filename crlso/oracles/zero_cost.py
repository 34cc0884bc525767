"""Zero-cost proxy scores of cells, read from the cache files ``darts-backend zc`` writes.

crlso imports darts_backend only in ``search/hybrid`` and the training and supernet oracles: this module
reads the cache format directly. A cache file ``<cache_dir>/zero-cost/<space>/<proxy>-<digest>.json`` holds
``{"format_version": 1, "settings": {...}, "scores": {cell string: value or null}}``; the settings
name the network and the images by digest only, so the scores hold no label. ``null`` is an
undefined score (NaN).

A proxy is named either by its name (``synflow``: the file of that proxy under the space's folder
that scores the most cells; two such files of equal size are ambiguous and refused) or by the path
of one cache file.

`ProxyTable` turns the scores of several proxies into what a searcher uses, all without a query:

* `ProxyTable.features`: ``(N, k)`` rank-normalized scores (each proxy's rank among the reference
  cells, scaled to mean 0 and variance 1; a cell without a score, or an undefined one, gets 0),
  free input features of a predictor;
* `ProxyTable.ensemble`: ``(N,)`` the mean of those features, the rank-average ensemble that a
  zero-cost warm start and proxy pre-screening rank cells by (larger is better).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor
from crlso.errors import InputError, MissingFileError

__all__ = ["FORMAT_VERSION", "ProxyTable", "find_proxy_file", "load_proxy_scores", "parse_proxy_list", "proxy_table",
           "read_proxy_file"]

FORMAT_VERSION = 1


def parse_proxy_list(text: str, *, option: str) -> list[str]:
    """``"synflow,params"`` -> ``["synflow", "params"]`` (also ``+`` separated); names or file paths.

    Raises:
        ValueError: an empty list, or a name given twice.
    """
    items = [part.strip() for part in text.replace("+", ",").split(",") if part.strip()]
    if not items:
        raise InputError(f"option {option}={text!r} names no proxy; give proxy names or cache files, e.g. synflow,params")
    if len(set(items)) != len(items):
        raise InputError(f"option {option}={text!r} names a proxy twice")
    return items


def find_proxy_file(cache_dir: str | Path, space: str, proxy: str) -> Path:
    """The cache file of ``proxy`` in ``space`` that scores the most cells.

    Raises:
        FileNotFoundError: no cache file of that proxy (says which command writes one).
        ValueError: two files of that proxy score equally many cells (name one by its path).
    """
    folder = Path(cache_dir).expanduser() / "zero-cost" / space
    found = []
    for path in sorted(folder.glob(f"{proxy}-*.json")):
        found.append((len(_read(path)["scores"]), path))
    if not found:
        raise MissingFileError(f"no {proxy} scores of the {space} space under {folder}; write them with "
                               f"`darts-backend zc --space {space} --all --proxies {proxy} ...` (or name a cache file)")
    found.sort(key=lambda item: -item[0])
    if len(found) > 1 and found[0][0] == found[1][0]:
        raise InputError(f"{found[0][1]} and {found[1][1]} both score {found[0][0]} {space} cells with {proxy}; "
                         "name the file to use by its path")
    return found[0][1]


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read proxy cache {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION or not isinstance(data.get("scores"), dict):
        raise InputError(f"{path} is not a proxy cache file (format_version {FORMAT_VERSION})")
    return data


def _scores(data: dict) -> dict[str, float]:
    return {str(key): (math.nan if value is None else float(value)) for key, value in data["scores"].items()}


def read_proxy_file(path: str | Path) -> tuple[str, str, dict[str, float]]:
    """``(space, proxy, cell string -> score)`` of one proxy cache file (NaN where undefined).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a proxy cache file of this format (with its settings' space and proxy).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"no proxy file at {path}")
    data = _read(path)
    settings = data.get("settings")
    if not isinstance(settings, dict) or "proxy" not in settings or "space" not in settings:
        raise InputError(f"{path} is not a proxy cache file (format_version {FORMAT_VERSION} with settings and scores)")
    return str(settings["space"]), str(settings["proxy"]), _scores(data)


def load_proxy_scores(spec: str, *, space: str, cache_dir: str | Path) -> dict[str, float]:
    """Cell string -> score (NaN when undefined) of a proxy name or a cache file path.

    Raises:
        FileNotFoundError, ValueError: as `find_proxy_file`, or a file of another space.
    """
    path = Path(spec).expanduser()
    if spec.endswith(".json") or path.is_file():
        if not path.is_file():
            raise MissingFileError(f"proxy cache file {path} does not exist")
    else:
        path = find_proxy_file(cache_dir, space, spec)
    data = _read(path)
    found = data.get("settings", {}).get("space")
    if found is not None and found != space:
        raise InputError(f"{path} holds {found} scores; the search is on {space}")
    return _scores(data)


class ProxyTable:
    """Rank-normalized scores of ``k`` proxies, referenced to a fixed set of cells.

    Args:
        scores: one mapping (cell string -> score) per proxy, in feature order.
        reference: the cell strings whose scores set each proxy's ranks (a searcher's cells).
        names: proxy names, for messages (default ``proxy0..``).
        require_all: refuse scores that miss a reference cell (an enumerable space's full pass).

    Raises:
        ValueError: no proxy, or (``require_all``) a proxy without a score for some reference cell.
    """

    def __init__(self, scores: Sequence[Mapping[str, float]], reference: Sequence[str], *,
                 names: Sequence[str] | None = None, require_all: bool = False):
        if not scores:
            raise InputError("a proxy table needs at least one proxy")
        self.names = list(names) if names is not None else [f"proxy{i}" for i in range(len(scores))]
        self.scores = [dict(s) for s in scores]
        self._sorted: list[Tensor] = []  # per proxy: the defined reference scores, ascending
        columns = []
        for name, table in zip(self.names, self.scores):
            missing = sum(key not in table for key in reference)
            if require_all and missing:
                raise InputError(f"proxy {name} has no score for {missing} of the {len(reference)} cells searched; "
                                 "compute the full pass first (darts-backend zc --all)")
            values = torch.tensor([table.get(key, math.nan) for key in reference], dtype=torch.float64)
            ref = values[~values.isnan()].sort().values
            self._sorted.append(ref)
            columns.append(self._standard_ranks(ref, values))
        self._reference = {key: i for i, key in enumerate(reference)}
        self._table = torch.stack(columns, dim=1).float() if reference else torch.zeros(0, len(scores))

    @property
    def dim(self) -> int:
        """Number of proxies ``k`` (features per cell)."""
        return len(self.scores)

    def features(self, keys: Sequence[str]) -> Tensor:
        """``(len(keys), k)`` float32: per proxy, the cell's mid-rank among the reference scores,
        mapped to ``sqrt(12) * (rank / n - 1/2)`` (mean 0, variance 1 over the reference); 0 when
        the cell has no score or an undefined one."""
        index = [self._reference.get(key, -1) for key in keys]
        if all(i >= 0 for i in index):
            return self._table[torch.tensor(index, dtype=torch.long)]
        out = torch.zeros(len(keys), self.dim)
        for row, (key, i) in enumerate(zip(keys, index)):
            if i >= 0:
                out[row] = self._table[i]
            else:
                values = [torch.tensor([table.get(key, math.nan)], dtype=torch.float64) for table in self.scores]
                out[row] = torch.cat([self._standard_ranks(ref, v) for ref, v in zip(self._sorted, values)]).float()
        return out

    def ensemble(self, keys: Sequence[str]) -> Tensor:
        """``(len(keys),)`` the rank-average of the proxies (mean of `features`; larger is better)."""
        return self.features(keys).mean(dim=1)

    @staticmethod
    def _standard_ranks(ref: Tensor, values: Tensor) -> Tensor:
        """``(M,)`` mid-ranks of ``values (M,)`` among the sorted ``ref``, scaled to mean 0 and
        variance 1 over ``ref`` (ties share one value); 0 for NaN, or when ``ref`` is empty."""
        if len(ref) == 0:
            return torch.zeros_like(values)
        below = torch.searchsorted(ref, values, right=False)
        upto = torch.searchsorted(ref, values, right=True)
        standard = math.sqrt(12.0) * ((below + upto).double() / (2.0 * len(ref)) - 0.5)
        return torch.where(values.isnan(), torch.zeros_like(standard), standard)


def proxy_table(text: str, *, space: str, cache_dir: str | Path, reference: Sequence[str], option: str,
                require_all: bool) -> ProxyTable:
    """The `ProxyTable` of the proxies listed in ``text`` (an option's value), referenced to ``reference``.

    Raises:
        FileNotFoundError, ValueError: as `parse_proxy_list`, `load_proxy_scores` and `ProxyTable`.
    """
    names = parse_proxy_list(text, option=option)
    scores = [load_proxy_scores(name, space=space, cache_dir=cache_dir) for name in names]
    return ProxyTable(scores, reference, names=names, require_all=require_all)
