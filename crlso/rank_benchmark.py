"""Benchmark B2 (predictor-based ranking on NB201): the latent model beside a random forest.

For each ``n`` and seed: draw ``n`` labelled cells at random (``numpy`` generator seeded by
``seed``), train on their labels, score every other cell, and measure Kendall tau, Spearman rho
and precision@k against the true metric on those unlabelled cells (`crlso.ranking`).

The latent model ("semi-supervised", no label ever reaches the cached pre-training):

1. the graph VAE pre-trained on all 15,625 cells without labels (`cached_pretrained_vae`);
2. ``ensemble`` GNN predictors whose message-passing body is initialised from that VAE's encoder
   body (``warm_start``), fitted on the ``n`` labels with MSE on the standardized accuracy plus
   ``rank_weight`` times a pairwise logistic ranking loss over all labelled pairs. With ``prune``
   the predictors see each cell with its dead edges (on no live input->output path) set to
   ``none``, the same function (`crlso.cell_features.prune_dead_edges`);
3. ``head="predictor"``: the ensemble mean is the score. ``head="icnn"``: the ensemble
   pseudo-labels every cell, an ICNN is fitted on (VAE code, label or pseudo-label) with labels
   weighted ``label_weight``, and the ICNN is the score;
4. with ``forest_weight > 0``, a random forest on the genotype-only path features
   (`crlso.cell_features.nb201_cell_features`, ``forest_trees`` trees, ``forest_max_features``)
   is fitted on the same ``n`` labels, and the score is the blend of average ranks
   ``(1 - w) * rank(step 3) + w * rank(forest)``.

The baseline is a ``RandomForestRegressor`` (``rf_trees`` trees) on the one-hot of the 6 edge
operations; scikit-learn is a benchmark-only dependency, imported here lazily. Every run also
records the two parts of the latent model alone (``latent_gnn``, ``cell_forest``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import Batch
from tqdm import tqdm

from crlso.ranking import kendall_tau, precision_at_k, spearman_rho
from crlso.training import ModelConfig, PretrainConfig

__all__ = [
    "RankBenchConfig",
    "HEADS",
    "MODELS",
    "one_hot_ops",
    "random_forest_scores",
    "blend_ranks",
    "latent_scores",
    "run_rank_benchmark",
    "format_rank_table",
]

HEADS = ("predictor", "icnn")
MODELS = ("latent", "random_forest", "latent_gnn", "cell_forest")  # the last two: parts of the latent model


@dataclass(frozen=True)
class RankBenchConfig:
    """Options of the B2 benchmark and of its semi-supervised latent model."""

    dataset: str = "cifar10"
    metric: str = "valid_acc"
    ns: tuple[int, ...] = (50, 100, 200, 500)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    k: int = 50
    head: str = "predictor"
    warm_start: bool = True
    ensemble: int = 3
    epochs: int = 300
    lr: float = 2e-3
    weight_decay: float = 1e-4
    rank_weight: float = 3.0
    icnn_steps: int = 300
    icnn_lr: float = 1e-2
    label_weight: float = 20.0
    prune: bool = True
    forest_weight: float = 0.5
    forest_trees: int = 300
    forest_max_features: float = 0.5
    rf_trees: int = 300
    cache_dir: str = ""
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    pretrain: PretrainConfig = dataclasses.field(default_factory=PretrainConfig)


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
        ImportError: scikit-learn is missing (it is a benchmark-only dependency).
    """
    try:
        from sklearn.ensemble import RandomForestRegressor
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the random-forest baseline needs scikit-learn: pip install scikit-learn") from exc
    forest = RandomForestRegressor(n_estimators=trees, max_features=max_features, random_state=seed, n_jobs=1)
    forest.fit(features[labelled], targets)
    return forest.predict(features)


def blend_ranks(first: np.ndarray, second: np.ndarray, weight: float) -> np.ndarray:
    """``(N,)`` ``(1 - weight) * ranks(first) + weight * ranks(second)``, ranks scaled to ``(0, 1]``."""
    from crlso.ranking import average_ranks

    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"the blend weight must be in [0, 1], got {weight}")
    size = len(first)
    return (1.0 - weight) * average_ranks(first) / size + weight * average_ranks(second) / size


def _fit_ranker(predictor: nn.Module, batch: Batch, targets: Tensor, config: RankBenchConfig) -> None:
    """Full-batch fit of ``predictor`` to standardized ``targets (n,)``: MSE + pairwise logistic loss."""
    scaled = (targets - targets.mean()) / targets.std().clamp_min(1e-6)
    sign = torch.sign(scaled[:, None] - scaled[None, :])
    optimizer = torch.optim.AdamW(predictor.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    predictor.train()
    for _ in range(config.epochs):
        out = predictor(batch)
        loss = nn.functional.mse_loss(out, scaled)
        if config.rank_weight > 0:
            margin = (out[:, None] - out[None, :]) * sign
            loss = loss + config.rank_weight * nn.functional.softplus(-margin)[sign != 0].mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    predictor.eval()


@torch.no_grad()
def _predict_all(predictor: nn.Module, batch: Batch, chunk: int = 4096) -> Tensor:
    from crlso.training import subset_batch

    parts = [predictor(subset_batch(batch, list(range(s, min(s + chunk, batch.num_graphs))))) for s in range(0, batch.num_graphs, chunk)]
    return torch.cat(parts)


def latent_scores(vae: nn.Module, mu: Tensor, batch: Batch, labelled: np.ndarray, targets: np.ndarray,
                  config: RankBenchConfig, *, seed: int) -> np.ndarray:
    """``(N,)`` scores (higher is better) of every cell by the semi-supervised latent model.

    Args:
        vae: the unlabelled pre-trained VAE (its encoder body warm-starts the predictors).
        mu: ``(N, d)`` VAE codes of all cells.
        batch: all ``N`` cells as one PyG batch (as the predictors should see them, e.g. pruned).
        labelled: ``(n,)`` indices of the labelled cells; ``targets (n,)`` their metric.
    """
    from crlso.training import build_icnn, build_predictor, fit_icnn, subset_batch

    y = torch.as_tensor(targets, dtype=torch.float32)
    sub = subset_batch(batch, labelled.tolist())
    members = []
    with torch.random.fork_rng(devices=[]):
        for member in range(config.ensemble):
            torch.manual_seed(seed * 1000 + member)
            predictor = build_predictor(config.model)
            if config.warm_start:
                predictor.body.load_state_dict(vae.encoder.body.state_dict())
            _fit_ranker(predictor, sub, y, config)
            members.append(_predict_all(predictor, batch))
        score = torch.stack(members).mean(dim=0)
        if config.head == "predictor":
            return score.numpy().astype(np.float64)
        pseudo = score.clone()
        pseudo[torch.as_tensor(labelled)] = (y - y.mean()) / y.std().clamp_min(1e-6)
        weights = torch.ones_like(pseudo)
        weights[torch.as_tensor(labelled)] = config.label_weight
        torch.manual_seed(seed)
        icnn = build_icnn(config.model)
        fit_icnn(icnn, mu, -pseudo, weights, steps=config.icnn_steps, lr=config.icnn_lr)  # the ICNN models error
        return (-icnn(mu)).detach().numpy().astype(np.float64)


def _metrics(pred: np.ndarray, true: np.ndarray, k: int) -> dict[str, float]:
    return {"tau": kendall_tau(pred, true), "rho": spearman_rho(pred, true), "p_at_k": precision_at_k(pred, true, k)}


def run_rank_benchmark(config: RankBenchConfig, *, table=None, progress: bool = True) -> dict:
    """Run B2; returns ``{"runs": [...], "summary": {n: {model: {metric: (mean, sd)}}}}``.

    Raises:
        ValueError: unknown head, a space other than ``nb201``, ``forest_weight`` outside
            ``[0, 1]``, or an ``n`` outside ``2..N-k``.
    """
    from crlso.cell_features import nb201_cell_features, prune_dead_edges
    from crlso.graphs import all_cells_batch, batch_genotypes
    from crlso.training import cached_pretrained_vae, encode
    from nasspace import get_space
    from nasspace.benchmarks.nb201 import NB201Table

    if config.head not in HEADS:
        raise ValueError(f"unknown head {config.head!r}; valid: {', '.join(HEADS)}")
    if not 0.0 <= config.forest_weight <= 1.0:
        raise ValueError(f"forest_weight must be in [0, 1], got {config.forest_weight}")
    if config.model.space != "nb201":
        raise ValueError(f"B2 runs on the nb201 space, got {config.model.space!r}")
    table = table or NB201Table(config.dataset)
    cells, batch = all_cells_batch(config.model.space)
    truth = np.asarray([table.query(g, config.metric) for g in cells], dtype=np.float64)
    for n in config.ns:
        if not 2 <= n <= len(cells) - config.k:
            raise ValueError(f"n must be in 2..{len(cells) - config.k}, got {n}")
    vae, _ = cached_pretrained_vae(config.model, config.pretrain, cache_dir=config.cache_dir or None,
                                   device=torch.device("cpu"), progress=progress)
    mu = encode(vae, batch)
    op_indices = np.asarray([g.op_indices for g in cells])
    if config.prune:  # the same functions, dead edges shown as `none`, for the GNN predictors
        space = get_space(config.model.space)
        batch = batch_genotypes([space.from_op_indices([int(o) for o in row]) for row in prune_dead_edges(op_indices)])
    features = one_hot_ops(op_indices)
    cell_features = nb201_cell_features(op_indices) if config.forest_weight > 0 else None
    runs = []
    jobs = [(n, seed) for n in config.ns for seed in config.seeds]
    for n, seed in tqdm(jobs, desc="B2 n x seed", disable=not progress):
        rng = np.random.default_rng(seed)
        labelled = np.sort(rng.choice(len(cells), size=n, replace=False))
        rest = np.setdiff1d(np.arange(len(cells)), labelled)
        gnn = latent_scores(vae, mu, batch, labelled, truth[labelled], config, seed=seed)
        forest = random_forest_scores(features, labelled, truth[labelled], trees=config.rf_trees, seed=seed)
        run = {"n": n, "seed": seed}
        if cell_features is not None:
            cell_forest = random_forest_scores(cell_features, labelled, truth[labelled], trees=config.forest_trees,
                                               seed=seed, max_features=config.forest_max_features)
            latent = blend_ranks(gnn, cell_forest, config.forest_weight)
            run["cell_forest"] = _metrics(cell_forest[rest], truth[rest], config.k)
        else:
            latent = gnn
        run.update({"latent": _metrics(latent[rest], truth[rest], config.k),
                    "random_forest": _metrics(forest[rest], truth[rest], config.k),
                    "latent_gnn": _metrics(gnn[rest], truth[rest], config.k)})
        runs.append(run)
    summary: dict = {}
    for n in config.ns:
        summary[n] = {}
        for model in MODELS:
            rows = [r[model] for r in runs if r["n"] == n and model in r]
            if rows:
                summary[n][model] = {
                    key: (float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0)
                    for key in ("tau", "rho", "p_at_k")
                    for vals in [[row[key] for row in rows]]
                }
    return {"runs": runs, "summary": summary}


def format_rank_table(result: dict, k: int = 50) -> str:
    """A Markdown table of `run_rank_benchmark`'s summary (mean ± sd over seeds; ``(n=1)`` for one seed, no sd)."""
    seeds = {n: len({r["seed"] for r in result.get("runs", []) if r["n"] == n}) for n in result["summary"]}

    def spread(mean: float, sd: float, n: int) -> str:
        return f"{mean:.3f} (n=1)" if seeds.get(n, 2) == 1 else f"{mean:.3f} ± {sd:.3f}"

    head = ["n", "latent tau", "latent rho", f"latent p@{k}", "RF tau", "RF rho", f"RF p@{k}", "GNN part tau", "forest part tau"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n, row in result["summary"].items():
        cells = [str(n)]
        for model in ("latent", "random_forest"):
            cells += [spread(*row[model][key], n) for key in ("tau", "rho", "p_at_k")]
        for model in ("latent_gnn", "cell_forest"):
            cells.append(spread(*row[model]["tau"], n) if model in row else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
