"""A zero-cost pass: score many cells with many proxies, through the per-cell cache, with a progress bar.

Every (cell, proxy) score goes into the cache file of its proxy and setting
(`darts_backend.evaluate.ProxyCache`) as soon as it is computed (written every `flush_seconds` and
at the end, also on Ctrl-C or an error); running the same pass again computes only what is missing.
The result file lists every requested cell with its scores, the setting, and the mean seconds per
cell of each proxy (wall and CPU) over the cells this run computed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from darts_backend.evaluate import ProxyCache, ZeroCostConfig, ZeroCostScorer, default_cache_dir, get_proxy
from darts_backend.evaluate.zero_cost import load_proxy_images
from darts_backend.runs.files import write_json
from nasspace.space import Genotype, genotype_from_json, get_space
from darts_backend.errors import ConfigError

__all__ = ["ZeroCostResult", "run_zero_cost", "read_cells"]


@dataclass
class ZeroCostResult:
    """What a pass produced.

    Attributes:
        scores: ``{proxy: [score per cell, in the order given]}`` (NaN where a proxy is undefined).
        seconds_per_cell: ``{proxy: mean wall seconds}`` over the cells computed by this run (absent if none).
        cpu_seconds_per_cell: the same in CPU seconds of this process (all threads; unaffected by other load).
        computed: ``{proxy: cells computed by this run}``; the rest came from the cache.
    """

    genotypes: list[Genotype]
    scores: dict[str, list[float]]
    seconds_per_cell: dict[str, float] = field(default_factory=dict)
    cpu_seconds_per_cell: dict[str, float] = field(default_factory=dict)
    computed: dict[str, int] = field(default_factory=dict)


def read_cells(path: str | Path, space: str) -> list[Genotype]:
    """Genotypes of `space` from a file: a JSON list (genotype objects or strings), JSONL, or one
    canonical string per line (blank lines and ``#`` comments skipped).

    Raises:
        ValueError: unreadable file, a cell of another space, or a line that does not parse.
    """
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read cells file {path}: {exc}") from None
    search_space = get_space(space)

    def one(item: Any, where: str) -> Genotype:
        try:
            genotype = genotype_from_json(item) if isinstance(item, dict) else search_space.parse(str(item))
        except ValueError as exc:
            raise ConfigError(f"{path} {where}: {exc}") from None
        if genotype.space_name != space:
            raise ConfigError(f"{path} {where}: a {genotype.space_name} cell, expected {space}")
        return genotype

    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{path} is not valid JSON: {exc}") from None
        return [one(item, f"item {i}") for i, item in enumerate(items)]
    cells = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        item: Any = line
        if line.startswith("{"):
            try:
                item = json.loads(line)
            except ValueError as exc:
                raise ConfigError(f"{path} line {number} is not valid JSON: {exc}") from None
        cells.append(one(item, f"line {number}"))
    if not cells:
        raise ConfigError(f"{path} lists no cells")
    return cells


def run_zero_cost(config: ZeroCostConfig, genotypes: Sequence[Genotype], proxies: Sequence[str],
                  out: str | Path | None = None, *, cache_dir: str | Path | None = None, progress: bool = True,
                  flush_seconds: float = 30.0) -> ZeroCostResult:
    """Score `genotypes` with `proxies`, reusing and filling the cache; write `out` (JSON) if given.

    Raises:
        ValueError: no cells, an unknown or repeated proxy, or unreadable images (all before any work).
    """
    from tqdm.auto import tqdm

    if not genotypes:
        raise ConfigError("no cells to score")
    if not proxies:
        raise ConfigError("no proxies to compute")
    for name in proxies:
        get_proxy(name)
    if len(set(proxies)) != len(proxies):
        raise ConfigError(f"proxies listed twice: {', '.join(proxies)}")
    scorer = ZeroCostScorer(config, load_proxy_images(config))
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    caches = {p: ProxyCache.open(root, scorer.settings(p), flush_seconds=flush_seconds) for p in proxies}
    keys = [str(g) for g in genotypes]
    todo = [i for i, key in enumerate(keys) if any(key not in caches[p] for p in proxies)]
    seconds = {p: 0.0 for p in proxies}
    cpu_seconds = {p: 0.0 for p in proxies}
    computed = {p: 0 for p in proxies}
    try:
        bar = tqdm(todo, desc=f"zero-cost {config.space}", unit="cell", disable=not progress,
                   initial=len(keys) - len(todo), total=len(keys))
        for i in bar:
            for proxy in proxies:
                if keys[i] in caches[proxy]:
                    continue
                start, cpu_start = time.perf_counter(), time.process_time()
                value = scorer.score(genotypes[i], proxy)
                seconds[proxy] += time.perf_counter() - start
                cpu_seconds[proxy] += time.process_time() - cpu_start
                computed[proxy] += 1
                caches[proxy].put(keys[i], value)
    finally:
        for cache in caches.values():
            cache.flush()
    scores = {p: [caches[p].get(key) for key in keys] for p in proxies}
    result = ZeroCostResult(list(genotypes), scores,  # type: ignore[arg-type]  # every key is cached now
                            seconds_per_cell={p: seconds[p] / computed[p] for p in proxies if computed[p]},
                            cpu_seconds_per_cell={p: cpu_seconds[p] / computed[p] for p in proxies if computed[p]},
                            computed=computed)
    if out is not None:
        write_json(out, _result_json(result, scorer, caches))
    return result


def _result_json(result: ZeroCostResult, scorer: ZeroCostScorer, caches: dict[str, ProxyCache]) -> dict[str, Any]:
    def plain(value: float) -> float | None:
        return None if value != value else value  # NaN -> null

    return {
        "config": scorer.describe(),
        "proxies": list(result.scores),
        "cache_files": {p: str(c.path) for p, c in caches.items()},
        "seconds_per_cell": result.seconds_per_cell,
        "cpu_seconds_per_cell": result.cpu_seconds_per_cell,
        "computed": result.computed,
        "cells": [{"genotype": str(g), **{p: plain(result.scores[p][i]) for p in result.scores}}
                  for i, g in enumerate(result.genotypes)],
    }
