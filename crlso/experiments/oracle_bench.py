"""How far to trust a training proxy: train random NB201 cells at the proxy budget and rank them against the table.

`run_oracle_bench` samples ``cells`` distinct NB201 cells (seeded), trains each with the training
oracle (`crlso.oracles.train_cells`, through an executor; evaluation folders resume) and reports
Kendall tau and Spearman rho (scipy) between the proxy's held-out accuracy and the table's metric
(``valid_acc`` by default: 200 epochs, the search metric of the protocol). ``oracle_bench.json``
(atomic) holds the proxy, every cell's two values and its training seconds, the correlations and the
wall time.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from nasspace import get_space
from nasspace.nb201 import NB201_SIZE
from nasspace.atomic import write_json_atomic

from crlso.execution.executors import Executor
from crlso.oracles import TrainProxy, train_cells
from crlso.search.base import sample_unseen_batch
from crlso.errors import ConfigError

__all__ = ["run_oracle_bench"]


def run_oracle_bench(proxy: TrainProxy, out_dir: str | Path, *, cells: int, seed: int = 0, dataset: str = "cifar10",
                     metric: str = "valid_acc", data_dir: str | None = None, executor: Executor | None = None,
                     progress: bool = True) -> dict[str, Any]:
    """Train ``cells`` random NB201 cells at ``proxy`` into ``out_dir/evaluations`` and correlate with the table.

    Returns:
        ``oracle_bench.json``'s content: ``kendall_tau``, ``spearman_rho``, ``wall_seconds``,
        ``train_seconds`` (sum over cells), ``proxy``, ``executor`` and per-cell ``rows``.

    Raises:
        ValueError: fewer than 3 cells, a proxy of another space, or a metric the table lacks.
    """
    from scipy import stats

    from crlso.oracles import load_table

    if cells < 3:
        raise ConfigError(f"--cells must be >= 3 to rank anything, got {cells}")
    if cells > NB201_SIZE:
        raise ConfigError(f"--cells {cells} asks for more distinct cells than NB201 holds ({NB201_SIZE})")
    if proxy.space != "nb201":
        raise ConfigError(f"oracle-bench ranks against the NB201 table; the proxy is for {proxy.space}")
    table = load_table(dataset, data_dir)
    table.metric(metric)  # a metric the table lacks fails here, before any training
    genotypes = sample_unseen_batch(get_space("nb201"), np.random.default_rng(seed), set(), cells)
    out = Path(out_dir)
    started = time.perf_counter()
    evaluations = train_cells(genotypes, proxy, out / "evaluations", executor=executor, progress=progress)
    wall = time.perf_counter() - started
    predicted = np.array([e.value for e in evaluations])
    truth = np.array([table.query(g, metric) for g in genotypes])
    result = {
        "proxy": proxy.to_json(), "cells": cells, "seed": seed, "dataset": dataset, "metric": metric,
        "kendall_tau": float(stats.kendalltau(predicted, truth).statistic),
        "spearman_rho": float(stats.spearmanr(predicted, truth).statistic),
        "wall_seconds": wall, "train_seconds": float(sum(e.cost for e in evaluations)),
        "executor": executor.describe() if executor is not None else {"name": "in-process", "workers": 1},
        "rows": [{"genotype": e.genotype, "proxy": e.value, metric: float(t), "seconds": e.cost}
                 for e, t in zip(evaluations, truth)],
    }
    write_json_atomic(out / "oracle_bench.json", result)
    return result
