"""The ``crlso train`` workflow: the unlabelled VAE, the ranking model, optionally the CR-LSO latent fit, a model folder.

The command (`crlso.cli.train`) resolves its flags into a `TrainJob` (configs, the labelled cells, the reference
pool); `run_training` does the work and writes ``config.json`` (first), ``checkpoint.pt`` and ``summary.json``
into ``job.out``. With benchmark labels it also measures the model's Kendall tau on the benchmark cells it was
not given.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nasspace import Genotype

from crlso.errors import ConfigError
from crlso.models.config import ModelConfig, PretrainConfig, SemiSupervisedConfig
from crlso.ranking.model import RankModelConfig

__all__ = ["Labels", "TrainJob", "benchmark_labels", "label_errors", "run_training"]


@dataclass(frozen=True)
class Labels:
    """The labelled cells: ``cells``, ``values (n,)``, the label's ``name``, ``direction`` (higher|lower) and
    ``scale`` (percent|fraction|raw), where they came from (``source``), and their pool positions (``chosen``,
    benchmark labels only)."""

    cells: Sequence[Genotype]
    values: np.ndarray
    name: str
    direction: str
    scale: str
    source: dict[str, Any]
    chosen: np.ndarray | None = None


@dataclass(frozen=True)
class TrainJob:
    """A resolved ``crlso train``: the configs, the labels, the benchmark pool (None: the space has none)."""

    space: str
    dataset: str
    metric: str
    seed: int
    out: Path
    model: ModelConfig
    pretrain: PretrainConfig
    ranker: RankModelConfig
    labels: Labels
    semi: SemiSupervisedConfig | None = None  # the latent fit's settings; None: no latent fit
    pool: Any = None  # a `crlso.ranking.benchmark.Pool`
    proxies: Any = None  # `crlso.ranking.proxy_features` scores, or None
    cache_dir: str | None = None
    store: Any = None  # a `nasspace.fetch.DataStore`

    def config_json(self) -> dict[str, Any]:
        """What ``config.json`` records (``crlso train --config`` reads it back)."""
        from crlso.models.training import CACHE_FORMAT
        from crlso.ranking.model import RANK_MODEL_VERSION

        labels = self.labels
        label = {"name": labels.name, "direction": labels.direction, "scale": labels.scale, "count": len(labels.cells),
                 **labels.source}
        return {"space": self.space, "dataset": self.dataset, "metric": self.metric, "label": label, "seed": self.seed,
                "model": dataclasses.asdict(self.model), "pretrain": dataclasses.asdict(self.pretrain),
                "ranker": dataclasses.asdict(self.ranker), "proxies": list(self.proxies.names) if self.proxies else [],
                "latent_fit": dataclasses.asdict(self.semi) if self.semi is not None else None,
                "versions": {"rank_model": RANK_MODEL_VERSION, "vae_cache": CACHE_FORMAT, "space": self.space}}


def benchmark_labels(pool: Any, count: int, seed: int, *, described: str = "the pool's cells") -> tuple[list[Genotype], np.ndarray, np.ndarray]:
    """``(cells, values (count,), positions (count,))``: ``count`` cells of the pool drawn with ``seed``, sorted.

    Raises:
        ConfigError: ``count`` is not in ``2..len(pool.cells)`` (the message names the pool as ``described``).
    """
    if not 2 <= count <= len(pool.cells):
        raise ConfigError(f"--labels must be in 2..{len(pool.cells)} ({described}), got {count}")
    chosen = np.sort(np.random.default_rng(seed).choice(len(pool.cells), size=count, replace=False))
    return [pool.cells[i] for i in chosen], pool.truth[chosen], chosen


def label_errors(values: np.ndarray, scale: str, direction: str) -> np.ndarray:
    """``(n,)`` errors the latent fit models, lower is better: ``1 - acc`` for accuracies (percent or fraction),
    else the value with its sign set so that lower is better."""
    values = np.asarray(values, dtype=np.float64)
    if scale in ("percent", "fraction") and direction == "higher":
        return 1.0 - values / (100.0 if scale == "percent" else 1.0)
    return values if direction == "lower" else -values


def run_training(job: TrainJob, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Pre-train (cached), fit the ranking model and, with ``job.semi``, the latent fit; returns the summary."""
    from nasspace.atomic import write_json_atomic

    from crlso.models.checkpoints import save_checkpoint
    from crlso.models.config import default_device
    from crlso.models.training import cached_pretrained_vae
    from crlso.ranking import model as rm

    labels, proxies = job.labels, job.proxies
    reference_cells = list(job.pool.cells) if job.pool is not None else list(labels.cells)
    if proxies is not None:
        reference_cells = [g for g in reference_cells if str(g) in proxies.values] or list(labels.cells)
    write_json_atomic(job.out / "config.json", job.config_json())
    started = time.perf_counter()
    vae, cache_path = None, None
    if job.ranker.warm_start:  # a space without a VAE (no decoder, no training cells) trains with --no-warm-start
        vae, cache_path = cached_pretrained_vae(job.model, job.pretrain, cache_dir=job.cache_dir, device=default_device(),
                                                store=job.store)
        vae = vae.cpu()
        log(f"pre-trained VAE (unlabelled): {cache_path}")
    view = job.ranker.graph_view
    ranker = rm.RankModel.fit(rm.Reference.of(job.space, reference_cells, graph_view=view, proxy_features=proxies),
                              rm.Reference.of(job.space, labels.cells, graph_view=view, proxy_features=proxies),
                              labels.values, space=job.space, vae=vae, config=job.ranker, model=job.model, seed=job.seed,
                              direction=labels.direction, proxy_names=proxies.names if proxies else ())
    summary: dict[str, Any] = {"labels": len(labels.cells), "reference_cells": len(reference_cells),
                               "pretrain_cache": str(cache_path) if cache_path else None}
    if labels.chosen is not None and len(job.pool.cells) - len(labels.cells) >= 2:
        summary["kendall_tau_unlabelled"], rest = _tau_on_the_rest(job, ranker)
        log(f"ranking model Kendall tau on the {rest} unlabelled benchmark cells: {summary['kendall_tau_unlabelled']:.3f}")
    models: dict[str, Any] = {"vae": vae} if vae is not None else {}
    if job.semi is not None:
        models.update(_latent_fit(job, vae))
    summary["seconds"] = time.perf_counter() - started
    save_checkpoint(job.out / "checkpoint.pt", models=models, model_config=job.model, extra_config=job.config_json(),
                    genotypes=[str(g) for g in labels.cells], ranker=ranker.state())
    write_json_atomic(job.out / "summary.json", summary)
    return summary


def _tau_on_the_rest(job: TrainJob, ranker: Any) -> tuple[float, int]:
    """Kendall tau of the ranking model on the pool cells it was not given (with proxies: those scored)."""
    from crlso.ranking.metrics import kendall_tau

    rest = np.setdiff1d(np.arange(len(job.pool.cells)), job.labels.chosen)
    if job.proxies is not None:
        rest = np.asarray([i for i in rest if str(job.pool.cells[i]) in job.proxies.values], dtype=np.int64)
    scored = ranker.predict(ranker.featurize([job.pool.cells[i] for i in rest], job.proxies)).score
    truth = job.pool.truth[rest]
    return kendall_tau(scored, truth if job.labels.direction == "higher" else -truth), int(rest.size)


def _latent_fit(job: TrainJob, vae: Any) -> dict[str, Any]:
    """The CR-LSO semi-supervised fit on the space's training cells: ``{"predictor", "icnn"}``."""
    import torch

    from crlso.models.cells import training_cells_batch
    from crlso.models.semi_supervised import train_semi_supervised

    all_cells, _ = training_cells_batch(job.space, job.store)
    position = {str(g): i for i, g in enumerate(all_cells)}
    missing = [str(g) for g in job.labels.cells if str(g) not in position]
    if missing:
        raise ConfigError(f"--latent-fit: {len(missing)} labelled cell(s) are not among the space's training cells "
                          f"(e.g. {missing[0]})")
    index = torch.as_tensor([position[str(g)] for g in job.labels.cells], dtype=torch.long)
    errors = torch.as_tensor(label_errors(job.labels.values, job.labels.scale, job.labels.direction), dtype=torch.float32)
    predictor, icnn = train_semi_supervised(vae, index, errors, job.model, job.semi, seed=job.seed, store=job.store)
    return {"predictor": predictor, "icnn": icnn}
