"""Ranking benchmarks: B2 on NB201 and the same protocol on the DARTS space (NB301's 500 labelled cells).

For each ``n`` and seed: draw ``n`` labelled cells of the pool at random (``numpy`` generator seeded by
``seed``), fit on their labels, score every other cell of the pool, and measure Kendall tau, Spearman
rho and precision@k against the true metric on those cells (`crlso.ranking.metrics`).

Pools (`labelled_pool`): ``nb201``: every cell, the NB201 table's metric; ``darts``: the 500 NB301
cells of NASLib's zero-cost file. With proxy files, the pool is the cells they all score.

Models, all fitted on the same ``n`` labels:

- ``latent``: the ranking model of `crlso.ranking.model` (what `crlso train` fits and `crlso rank`
  loads), positions taken among the pool's cells; with proxy files also ``latent_proxy``, the same
  model with the proxies as extra forest inputs (its GNN members are the same fitted networks);
- ``latent_gnn``, ``cell_forest``: the two parts of ``latent`` alone;
- baselines: ``random_forest`` (``rf_trees`` trees on the one-hot encoding of the space) and
  ``params`` (the cells ranked by parameter count, no label used).

The unlabelled pre-trained VAE (`cached_pretrained_vae`) warm-starts the GNN members; no label ever
reaches it. scikit-learn is needed for the forests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from nasspace import Genotype
from crlso.ranking.metrics import kendall_tau, precision_at_k, spearman_rho
from crlso.ranking.model import RankModel, RankModelConfig, Reference, fit_forest
from crlso.models.config import ModelConfig, PretrainConfig
from crlso.errors import ConfigError

__all__ = [
    "RankBenchConfig",
    "BENCH_SPACES",
    "MODELS",
    "Pool",
    "labelled_pool",
    "nb201_params",
    "one_hot_ops",
    "random_forest_scores",
    "blend_ranks",
    "run_rank_benchmark",
    "format_rank_table",
]

BENCH_SPACES = ("nb201", "darts", "nb101")
"""Spaces with a labelled pool of their own; every space with a registered table has one too (its rows)."""
MODELS = ("latent", "latent_proxy", "latent_gnn", "cell_forest", "random_forest", "params")


@dataclass(frozen=True)
class RankBenchConfig:
    """Options of a ranking benchmark run (``model`` None: the space's default sizes)."""

    space: str = "nb201"
    dataset: str = "cifar10"
    metric: str = "valid_acc"
    ns: tuple[int, ...] = (50, 100, 200, 500)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    k: int = 50
    ranker: RankModelConfig = dataclasses.field(default_factory=RankModelConfig)
    rf_trees: int = 300
    proxy_files: tuple[str, ...] = ()
    cache_dir: str = ""
    model: ModelConfig | None = None
    pretrain: PretrainConfig = dataclasses.field(default_factory=PretrainConfig)

    def model_config(self) -> ModelConfig:
        from crlso.models.config import default_model_config

        return self.model if self.model is not None else default_model_config(self.space)


@dataclass(frozen=True)
class Pool:
    """The labelled cells of a space: ``cells``, their metric ``truth (N,)``, their ``params (N,)``."""

    cells: tuple[Genotype, ...]
    truth: np.ndarray
    params: np.ndarray


def nb201_params(cells: Sequence[Genotype]) -> np.ndarray:
    """``(N,)`` parameters (M) of the searchable ops of each NB201 cell in the C=16, N=5 network: a
    ReLU-Conv-BN op of width ``C`` has ``k*k*C*C + 2*C`` (5 cells at each of C = 16, 32, 64); the fixed
    parts of the network add the same constant to every cell, so the order is that of the full count."""
    from nasspace.nb201 import NB201_OPS

    ops = np.asarray([g.op_indices for g in cells]).reshape(len(cells), -1)
    conv3 = (ops == NB201_OPS.index("nor_conv_3x3")).sum(axis=1)
    conv1 = (ops == NB201_OPS.index("nor_conv_1x1")).sum(axis=1)
    widths = np.array([16, 32, 64])
    per3, per1 = 5 * (9 * widths**2 + 2 * widths).sum(), 5 * (widths**2 + 2 * widths).sum()
    return (conv3 * per3 + conv1 * per1) / 1e6


def labelled_pool(space: str, *, dataset: str = "cifar10", metric: str = "valid_acc", table=None, store=None) -> Pool:
    """The labelled cells of ``space`` with their metric and parameter count (see the module doc).

    Raises:
        ValueError: a space without a labelled pool (lists those with one).
    """
    if space == "nb201":
        from crlso.models.graphs import all_cells_batch
        from nasspace.benchmarks.nb201 import NB201Table

        table = table or NB201Table(dataset, store=store)
        cells = all_cells_batch("nb201")[0]
        values = table.metric(metric)
        truth = np.asarray([values[table.index_of(g)] for g in cells], dtype=np.float64)
        return Pool(cells, truth, nb201_params(cells))
    if space == "darts":
        from nasspace.benchmarks.subsets import SubsetTable

        subset = table or SubsetTable("darts", dataset=dataset, store=store)
        return Pool(tuple(subset.genotypes), np.asarray(subset.metric(metric), dtype=np.float64),
                    np.asarray(subset.metric("params"), dtype=np.float64))
    if space == "nb101":  # NASLib's labelled NB101 cells (108-epoch validation accuracy), their parameter counts
        from nasspace.benchmarks.subsets import SubsetTable

        subset = table or SubsetTable("nb101", dataset=dataset, store=store)
        return Pool(tuple(subset.genotypes), np.asarray(subset.metric(metric), dtype=np.float64),
                    np.asarray(subset.metric("params"), dtype=np.float64))
    from nasspace.benchmarks.registry import list_table_specs, load_table

    if not list_table_specs(space):
        raise ConfigError(f"no labelled pool for space {space!r}; valid: {', '.join(BENCH_SPACES)} and every space "
                          f"with a table (crlso spaces)")
    table = table or load_table(space, dataset, None if store is None else str(store.data_dir))
    params = table.metric("para") if "para" in table.available_metrics() else np.full(len(table), np.nan)
    return Pool(tuple(table.genotypes), np.asarray(table.metric(metric), dtype=np.float64), np.asarray(params, dtype=np.float64))


def one_hot_ops(op_indices: np.ndarray, num_ops: int = 5) -> np.ndarray:
    """``(N, 6 * num_ops)`` one-hot of ``op_indices (N, 6)``."""
    n, edges = op_indices.shape
    out = np.zeros((n, edges * num_ops), dtype=np.float32)
    out[np.arange(n)[:, None], np.arange(edges) * num_ops + op_indices] = 1.0
    return out


def random_forest_scores(features: np.ndarray, labelled: np.ndarray, targets: np.ndarray, *, trees: int, seed: int,
                         max_features: float | str | None = 1.0) -> np.ndarray:
    """``(N,)`` random-forest predictions after fitting on ``features[labelled]``, ``targets (n,)``.

    Raises:
        ImportError: scikit-learn is missing.
    """
    return fit_forest(features[labelled], targets, trees=trees, seed=seed, max_features=max_features).predict(features)


def blend_ranks(first: np.ndarray, second: np.ndarray, weight: float) -> np.ndarray:
    """``(N,)`` ``(1 - weight) * ranks(first) + weight * ranks(second)``, ranks scaled to ``(0, 1]``."""
    from crlso.ranking.metrics import average_ranks

    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"the blend weight must be in [0, 1], got {weight}")
    size = len(first)
    return (1.0 - weight) * average_ranks(first) / size + weight * average_ranks(second) / size


def _metrics(pred: np.ndarray, true: np.ndarray, k: int) -> dict[str, float]:
    return {"tau": kendall_tau(pred, true), "rho": spearman_rho(pred, true), "p_at_k": precision_at_k(pred, true, k)}




def run_rank_benchmark(config: RankBenchConfig, *, table=None, store=None, progress: bool = True,
                       on_run: Callable[[dict], None] | None = None) -> dict:
    """Run the benchmark; returns ``{"runs": [...], "summary": {n: {model: {metric: (mean, sd)}}}, "pool": N}``.

    Args:
        table: the labels (an ``NB201Table`` for nb201, a ``SubsetTable`` for darts); default: read from ``store``.
        on_run: called with each finished run (n, seed, metrics of every model), e.g. to save it at once.

    Raises:
        ValueError: a space without a pool, or an ``n`` outside ``2..N-k`` (N: the pool's size).
    """
    from crlso.ranking.proxy_features import read_proxy_files
    from crlso.ranking.spaces import rank_space
    from crlso.models.config import default_device
    from crlso.models.training import cached_pretrained_vae

    from nasspace.benchmarks.registry import list_table_specs

    if config.space not in BENCH_SPACES and not list_table_specs(config.space):
        raise ConfigError(f"no ranking benchmark for space {config.space!r}; valid: {', '.join(BENCH_SPACES)} and every "
                          f"space with a table (crlso spaces)")
    model = config.model_config()
    if model.space != config.space:
        raise ConfigError(f"the model config is for space {model.space!r}, the benchmark for {config.space!r}")
    pool = labelled_pool(config.space, dataset=config.dataset, metric=config.metric, table=table, store=store)
    proxies = read_proxy_files(config.proxy_files, space=config.space) if config.proxy_files else None
    if proxies is not None:  # the pool shrinks to the cells the proxy files score
        keep = np.asarray([i for i, g in enumerate(pool.cells) if str(g) in proxies.values], dtype=np.int64)
        pool = Pool(tuple(pool.cells[i] for i in keep), pool.truth[keep], pool.params[keep])
    size = len(pool.cells)
    for n in config.ns:
        if not 2 <= n <= size - config.k:
            raise ConfigError(f"n must be in 2..{size - config.k} (a pool of {size} cells, k = {config.k}), got {n}")
    vae = None
    if config.ranker.warm_start:
        vae, _ = cached_pretrained_vae(model, config.pretrain, cache_dir=config.cache_dir or None,
                                       device=default_device(), progress=progress, store=store)
    plain = Reference.of(config.space, pool.cells, graph_view=config.ranker.graph_view)
    with_proxies = None
    if proxies is not None:
        with_proxies = Reference(plain.cells, plain.batch,
                                 np.concatenate([plain.features, proxies.matrix([str(g) for g in pool.cells])], axis=1))
    one_hot = rank_space(config.space).one_hot(pool.cells)
    truth = pool.truth
    runs = []
    jobs = [(n, seed) for n in config.ns for seed in config.seeds]
    for n, seed in tqdm(jobs, desc=f"rank-bench {config.space} n x seed", disable=not progress):
        rng = np.random.default_rng(seed)
        labelled = np.sort(rng.choice(size, size=n, replace=False))
        rest = np.setdiff1d(np.arange(size), labelled)
        ranker = RankModel.fit(plain, plain.subset(labelled), truth[labelled], space=config.space, vae=vae,
                               config=config.ranker, model=model, seed=seed)
        prediction = ranker.reference_prediction
        forest = random_forest_scores(one_hot, labelled, truth[labelled], trees=config.rf_trees, seed=seed)
        run = {"n": n, "seed": seed,
               "latent": _metrics(prediction.score[rest], truth[rest], config.k),
               "latent_gnn": _metrics(prediction.gnn[rest], truth[rest], config.k),
               "random_forest": _metrics(forest[rest], truth[rest], config.k)}
        if np.isfinite(pool.params).all():  # a table without parameter counts has no params ranking
            run["params"] = _metrics(pool.params[rest], truth[rest], config.k)
        if prediction.forest is not None:
            run["cell_forest"] = _metrics(prediction.forest[rest], truth[rest], config.k)
        if with_proxies is not None:
            proxy_ranker = RankModel.fit(with_proxies, with_proxies.subset(labelled), truth[labelled], space=config.space,
                                         vae=vae, config=config.ranker, model=model, seed=seed,
                                         proxy_names=proxies.names, members=ranker.members)
            proxy_prediction = proxy_ranker.reference_prediction
            run["latent_proxy"] = _metrics(proxy_prediction.score[rest], truth[rest], config.k)
            if proxy_prediction.forest is not None:
                run["proxy_forest"] = _metrics(proxy_prediction.forest[rest], truth[rest], config.k)
        runs.append(run)
        if on_run is not None:
            on_run(run)
    summary: dict = {}
    for n in config.ns:
        summary[n] = {}
        for name in (*MODELS, "proxy_forest"):
            rows = [r[name] for r in runs if r["n"] == n and name in r]
            if rows:
                summary[n][name] = {
                    key: (float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0)
                    for key in ("tau", "rho", "p_at_k")
                    for vals in [[row[key] for row in rows]]
                }
    return {"runs": runs, "summary": summary, "pool": size}


def format_rank_table(result: dict, k: int = 50) -> str:
    """A Markdown table of `run_rank_benchmark`'s summary: Kendall tau of every model, then rho and
    precision@k of the model and the baselines (mean ± sd over seeds; ``(n=1)`` for one seed, no sd)."""
    present = [m for m in (*MODELS, "proxy_forest") if any(m in row for row in result["summary"].values())]
    seeds = {n: len({r["seed"] for r in result.get("runs", []) if r["n"] == n}) for n in result["summary"]}
    head = ["n", *(f"{m} tau" for m in present), "latent rho", f"latent p@{k}", "RF rho", f"RF p@{k}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cell(row: dict, model: str, key: str, n: int) -> str:
        if model not in row:
            return "-"
        mean, sd = row[model][key]
        return f"{mean:.3f} (n=1)" if seeds.get(n, 2) == 1 else f"{mean:.3f} ± {sd:.3f}"

    for n, row in result["summary"].items():
        cells = [str(n), *(cell(row, m, "tau", n) for m in present)]
        cells += [cell(row, "latent", "rho", n), cell(row, "latent", "p_at_k", n), cell(row, "random_forest", "rho", n),
                  cell(row, "random_forest", "p_at_k", n)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
