"""The final evaluation of a search: its K best cells trained with a longer budget and scored on the test split.

`run_finalize` reads a run folder's ``queries.jsonl`` (a ``crlso hybrid`` folder: its ``search/``),
takes the ``top`` distinct cells with the highest search value (earliest on ties), trains each from
scratch at a final budget (`crlso.oracles.final_preset`: all drawn train images, no held-out share)
in ``RUN/finalize/<key>/`` through an executor (finished ones are read back, killed ones resume),
and writes ``RUN/finalize.json`` atomically: per cell its rank, search value, test accuracy (%),
parameters and FLOPs (millions; multiply-adds) and training seconds. The search never saw this test
split; this is the only command that reads it for a trained oracle's run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from nasspace import get_space
from nasspace.atomic import write_json_atomic

from crlso.execution.executors import Executor
from crlso.oracles import TrainProxy, train_cells
from crlso.experiments.run_folder import read_json_file, read_queries
from crlso.errors import ConfigError

__all__ = ["run_finalize", "search_folder"]


def search_folder(run_dir: str | Path) -> Path:
    """The folder holding ``queries.jsonl``: ``run_dir`` itself, or its ``search/`` (a hybrid run).

    Raises:
        ValueError: neither holds a run's ``config.json`` and ``queries.jsonl``.
    """
    for folder in (Path(run_dir), Path(run_dir) / "search"):
        if (folder / "config.json").is_file() and (folder / "queries.jsonl").is_file():
            return folder
    raise ConfigError(f"{run_dir} is not a search run folder (no config.json and queries.jsonl in it or in its search/)")


def run_finalize(run_dir: str | Path, budget: TrainProxy, *, top: int, executor: Executor | None = None,
                 progress: bool = True) -> dict[str, Any]:
    """Train the ``top`` best cells of a search at ``budget`` and write ``finalize.json`` into its folder.

    Raises:
        ValueError: not a run folder, ``top`` < 1, no query logged yet, a budget of another space or one
            that does not score the test split.
    """
    if top < 1:
        raise ConfigError(f"--top must be >= 1, got {top}")
    if not budget.test:
        raise ConfigError("a final budget scores the test split (crlso.oracles.final_preset)")
    folder = search_folder(run_dir)
    config = read_json_file(folder / "config.json")
    if config.get("space") != budget.space:
        raise ConfigError(f"{folder} searched the {config.get('space')} space; the final budget is for {budget.space}")
    records = read_queries(folder / "queries.jsonl")
    if not records:
        raise ConfigError(f"{folder} has no query logged yet")
    space = get_space(budget.space)
    ranked = sorted(records, key=lambda r: (-float(r["value"]), int(r["step"])))[:top]
    genotypes = [space.parse(str(r["genotype"])) for r in ranked]
    started = time.perf_counter()
    evaluations = train_cells(genotypes, budget, folder / "finalize", executor=executor, progress=progress, desc="finalize")
    result = {
        "run": str(folder.resolve()), "search_metric": config.get("search_metric"), "top": top,
        "budget": budget.to_json(), "wall_seconds": time.perf_counter() - started,
        "executor": executor.describe() if executor is not None else {"name": "in-process", "workers": 1},
        "cells": [{"rank": i + 1, "genotype": e.genotype, "step": int(r["step"]), "search_value": float(r["value"]),
                   "test_acc": e.value, "params": e.params, "flops": e.flops, "train_seconds": e.cost,
                   "folder": f"finalize/{e.folder}"}
                  for i, (r, e) in enumerate(zip(ranked, evaluations))],
    }
    write_json_atomic(folder / "finalize.json", result)
    return result
