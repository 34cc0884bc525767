"""The ranking benchmark on NB101: NASLib's labelled cells, repeated random splits.

The labelled cells are NASLib's ``zc_nasbench101.json`` (500 keys, 301 distinct pruned cells; a
cell under several keys has the mean of their 108-epoch validation accuracies, `SubsetTable`).
For each ``n`` and seed: ``n`` cells drawn at random (``numpy`` generator seeded by ``seed``) train
every model; the other cells test it (Kendall tau, Spearman rho, precision@k).

Models, all in the same run:

- ``latent``: the latent model of `crlso.rank_benchmark` on NB101: an ensemble of GNN predictors
  warm-started from the unlabelled NB101 VAE's encoder (`latent_scores`), rank-blended with a
  random forest on the genotype-only NB101 path features (`crlso.nb101.features.cell_features`);
  its two parts are recorded as ``latent_gnn`` and ``cell_forest``;
- ``random_forest``: a random forest on the one-hot slot encoding (`one_hot_encoding`);
- ``params``: the cells ranked by their parameter count as NASLib lists it (no training).
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from crlso.rank_benchmark import RankBenchConfig, blend_ranks, latent_scores, random_forest_scores
from crlso.ranking import kendall_tau, precision_at_k, spearman_rho

__all__ = ["NB101_MODELS", "run_nb101_rank_benchmark", "format_nb101_table"]

NB101_MODELS = ("latent", "random_forest", "params", "latent_gnn", "cell_forest")


def _metrics(pred: np.ndarray, true: np.ndarray, k: int) -> dict[str, float]:
    return {"tau": kendall_tau(pred, true), "rho": spearman_rho(pred, true), "p_at_k": precision_at_k(pred, true, k)}


def run_nb101_rank_benchmark(config: RankBenchConfig, *, table=None, progress: bool = True) -> dict:
    """Run the NB101 splits; returns ``{"runs": [...], "summary": {n: {model: {metric: (mean, sd)}}}, "cells": N}``.

    Args:
        config: its ``model.space`` must be ``nb101``; ``dataset`` and ``metric`` name the labels.
        table: the labelled cells (default: `SubsetTable("nb101")` of the default data folder).

    Raises:
        ValueError: another space, ``forest_weight`` outside ``[0, 1]``, or an ``n`` outside ``2..N-k``.
    """
    from crlso.graphs import batch_genotypes
    from crlso.nb101.features import cell_features, one_hot_encoding
    from crlso.training import cached_pretrained_vae, encode
    from nasspace.benchmarks.subsets import SubsetTable

    if config.model.space != "nb101":
        raise ValueError(f"the NB101 ranking benchmark needs model.space 'nb101', got {config.model.space!r}")
    if not 0.0 <= config.forest_weight <= 1.0:
        raise ValueError(f"forest_weight must be in [0, 1], got {config.forest_weight}")
    table = table if table is not None else SubsetTable("nb101", dataset=config.dataset)
    cells = list(table.genotypes)
    truth = np.asarray(table.metric(config.metric), dtype=np.float64)
    params = np.asarray(table.metric("params"), dtype=np.float64)
    for n in config.ns:
        if not 2 <= n <= len(cells) - config.k:
            raise ValueError(f"n must be in 2..{len(cells) - config.k} ({len(cells)} labelled cells, k={config.k}), got {n}")
    vae, _ = cached_pretrained_vae(config.model, config.pretrain, cache_dir=config.cache_dir or None,
                                   device=torch.device("cpu"), progress=progress)
    batch = batch_genotypes(cells)
    mu = encode(vae, batch)
    one_hot, structure = one_hot_encoding(cells), cell_features(cells)
    runs = []
    for n, seed in tqdm([(n, s) for n in config.ns for s in config.seeds], desc="nb101 n x seed", disable=not progress):
        rng = np.random.default_rng(seed)
        labelled = np.sort(rng.choice(len(cells), size=n, replace=False))
        rest = np.setdiff1d(np.arange(len(cells)), labelled)
        gnn = latent_scores(vae, mu, batch, labelled, truth[labelled], config, seed=seed)
        forest = random_forest_scores(one_hot, labelled, truth[labelled], trees=config.rf_trees, seed=seed)
        cell_forest = random_forest_scores(structure, labelled, truth[labelled], trees=config.forest_trees, seed=seed,
                                           max_features=config.forest_max_features)
        latent = blend_ranks(gnn, cell_forest, config.forest_weight)
        runs.append({"n": n, "seed": seed, **{name: _metrics(scores[rest], truth[rest], config.k) for name, scores in (
            ("latent", latent), ("random_forest", forest), ("params", params), ("latent_gnn", gnn), ("cell_forest", cell_forest))}})
    summary: dict = {}
    for n in config.ns:
        rows = [r for r in runs if r["n"] == n]
        summary[n] = {
            model: {key: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0)
                    for key in ("tau", "rho", "p_at_k") for v in [[r[model][key] for r in rows]]}
            for model in NB101_MODELS
        }
    return {"runs": runs, "summary": summary, "cells": len(cells)}


def format_nb101_table(result: dict, k: int) -> str:
    """A Markdown table of the summary: tau of every model, rho and p@k of the latent model and the baselines."""
    head = ["n", "latent tau", "RF one-hot tau", "params tau", "latent rho", "RF rho", "params rho",
            f"latent p@{k}", f"RF p@{k}", f"params p@{k}", "GNN part tau", "forest part tau"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    fmt = lambda pair: f"{pair[0]:.3f} ± {pair[1]:.3f}"  # noqa: E731
    for n, row in result["summary"].items():
        cells = [str(n)]
        for key in ("tau", "rho", "p_at_k"):
            cells += [fmt(row[m][key]) for m in ("latent", "random_forest", "params")]
        cells += [fmt(row["latent_gnn"]["tau"]), fmt(row["cell_forest"]["tau"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
