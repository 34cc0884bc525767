"""The training procedures of CR-LSO (the model configs and builders are in `crlso.models.config`).

1. `pretrain_vae`: the graph VAE on the training cells of the space (`crlso.models.cells`: every cell
   of NB201; the 11,221 + 500 known DARTS genotypes), unlabelled (reconstruction + beta * KL). It holds no label, so it is cached on disk keyed by its config
   (`cached_pretrained_vae`) and shared by every seed and searcher.
2. `fit_predictor`: the GNN regressor on the labelled cells (targets standardized inside).
3. `fit_vae_icnn`: VAE + ICNN jointly on all cells, each with its label or the predictor's
   pseudo-label: reconstruction + beta * KL + weight * MSE(ICNN(z), target).
4. `refit_vae_icnn`: the same loss, warm-started and bounded, as a search re-regularizes its
   latent space while labels arrive: every minibatch holds all labelled cells plus a random draw
   of the others.

Targets are *errors* (1 - accuracy/100), so the convex ICNN is minimized.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch
from tqdm import tqdm

from nasspace import Genotype
from nasspace.fetch import DataStore

from crlso.models.cells import training_cells_batch
from crlso.models.spaces import get_adapter
from crlso.models.config import (ModelConfig, PretrainConfig, SemiSupervisedConfig, build_vae, default_cache_dir,
                                 default_device, subset_batch)
from crlso.models.graphs import GraphBank, batch_genotypes, featurizer_for, slice_batch
from crlso.models.icnn import ICNN
from crlso.models.predictor import GNNPredictor
from crlso.models.vae import GraphVAE

__all__ = [
    "pretrain_vae",
    "cached_pretrained_vae",
    "vae_cache_path",
    "encode",
    "fit_predictor",
    "predict",
    "fit_icnn",
    "fit_vae_icnn",
    "refit_vae_icnn",
    "fit_minibatch_mse",
]

CACHE_FORMAT = 1


def _minibatches(n: int, size: int, generator: torch.Generator) -> list[Tensor]:
    return list(torch.randperm(n, generator=generator).split(size))


def pretrain_vae(
    model_config: ModelConfig,
    config: PretrainConfig,
    *,
    device: torch.device | None = None,
    progress: bool = True,
    cells: Sequence[Genotype] | None = None,
    store: DataStore | None = None,
    generic_decoder: bool = False,
) -> GraphVAE:
    """Train a fresh VAE without labels on ``cells`` (default: the space's `training_cells`).

    Args:
        cells: the genotypes to train on (e.g. a small subset in tests).
        store: data folder of the default training cells (``darts``).
        generic_decoder: build it with the generic decoder even where the space has its own (`build_vae`).
    """
    device = device or default_device()
    with torch.random.fork_rng(devices=[]):  # seeded init and noise, global RNG left as it was
        torch.manual_seed(config.seed)
        vae = build_vae(model_config, generic_decoder=generic_decoder).to(device)
        return _pretrain(vae, model_config, config, device=device, progress=progress, cells=cells, store=store)


def _pretrain(vae: GraphVAE, model_config: ModelConfig, config: PretrainConfig, *, device: torch.device, progress: bool,
              cells: Sequence[Genotype] | None = None, store: DataStore | None = None) -> GraphVAE:
    if cells is None:  # the training cells, and the space's extra pre-training samples (`SpaceAdapter.pretrain_extra`)
        cells, batch = training_cells_batch(model_config.space, store)
        extra = get_adapter(model_config.space).pretrain_extra(cells)
        if extra:
            cells = (*cells, *extra)
            batch = batch_genotypes(cells, featurizer_for(model_config.space))
    else:
        batch = batch_genotypes(cells, featurizer_for(model_config.space))
    generator = torch.Generator().manual_seed(config.seed)
    targets = vae.decoder.targets(cells)
    optimizer = torch.optim.Adam(vae.parameters(), lr=config.lr)
    steps = config.epochs * ((len(cells) + config.batch_size - 1) // config.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    vae.train()
    for _ in tqdm(range(config.epochs), desc="pretrain VAE", disable=not progress, leave=False):
        for index in _minibatches(len(cells), config.batch_size, generator):
            sub = subset_batch(batch, index).to(device)
            out = vae(sub, generator=None)
            loss = vae.decoder.loss(out.logits, targets[index].to(device)) + config.beta * vae.kl(out.posterior)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(vae.parameters(), config.grad_clip)
            optimizer.step()
            schedule.step()
    return vae.eval()


def vae_cache_path(model_config: ModelConfig, config: PretrainConfig, cache_dir: str | Path | None = None) -> Path:
    """Where the pre-trained VAE of these configs is cached (a hash of both configs names the file).

    For a non-enumerable space the key also names the data files of its training cells (NB201
    keys are as they always were).
    """
    model = dataclasses.asdict(model_config)
    if model["readout"] == "sum":  # the default readout leaves the keys of caches written before it existed
        del model["readout"]
    content = {"format": CACHE_FORMAT, "model": model, "pretrain": dataclasses.asdict(config)}
    tag = get_adapter(model_config.space).cache_tag
    if tag:
        content["cells"] = list(tag)
    text = json.dumps(content, sort_keys=True)
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    return Path(cache_dir or default_cache_dir()) / f"vae-{model_config.space}-{key}.pt"


def cached_pretrained_vae(
    model_config: ModelConfig,
    config: PretrainConfig,
    *,
    cache_dir: str | Path | None = None,
    device: torch.device | None = None,
    progress: bool = True,
    store: DataStore | None = None,
) -> tuple[GraphVAE, Path]:
    """The unlabelled pre-trained VAE, loaded from the cache or trained once and stored there.

    ``store`` is the data folder of the training cells of ``darts`` (default: the default folder).

    Returns:
        The VAE (eval mode) and the path of its cache file.
    """
    from crlso.models.torch_files import CorruptFile, load_torch_checked, save_torch_checked

    device = device or default_device()
    path = vae_cache_path(model_config, config, cache_dir)
    vae = build_vae(model_config).to(device)
    if path.exists():  # the cache checks itself (sha256 beside it); a damaged one is rebuilt, not used
        try:
            state = load_torch_checked(path, map_location=device)
            vae.load_state_dict(state["state_dict"])
            return vae.eval(), path
        except (CorruptFile, KeyError, TypeError, RuntimeError) as exc:
            warnings.warn(f"the cached VAE is damaged and is rebuilt: {exc}", stacklevel=2)
    if progress:
        tqdm.write(f"pre-training the unlabelled graph VAE ({config.epochs} epochs over the {model_config.space} training cells; "
                   f"once: it is cached at {path} for later runs)", file=sys.stderr)
    started = time.perf_counter()
    trained = pretrain_vae(model_config, config, device=device, progress=progress, store=store)
    if progress:
        tqdm.write(f"pre-trained the VAE in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    save_torch_checked(
        path,
        {"state_dict": trained.state_dict(), "model_config": dataclasses.asdict(model_config), "pretrain_config": dataclasses.asdict(config)},
    )
    return trained, path


@torch.no_grad()
def encode(vae: GraphVAE, batch: Batch | GraphBank, *, chunk: int = 4096) -> Tensor:
    """``(num_graphs, latent_dim)`` posterior means of a batch (or a `GraphBank`), in chunks."""
    vae.eval()
    device = next(vae.parameters()).device
    out = []
    for start in range(0, batch.num_graphs, chunk):
        stop = min(start + chunk, batch.num_graphs)
        sub = batch.select(range(start, stop)) if isinstance(batch, GraphBank) else slice_batch(batch, start, stop)
        out.append(vae.encode(sub.to(device)).mu)
    return torch.cat(out)


def fit_predictor(
    predictor: GNNPredictor,
    batch: Batch,
    targets: Tensor,
    *,
    epochs: int,
    lr: float,
    weight_decay: float = 1e-4,
    extra: Tensor | None = None,
) -> GNNPredictor:
    """Full-batch fit of the predictor to ``targets (num_graphs,)`` standardized inside.

    ``extra (num_graphs, extra_dim)``: the per-graph input features of a predictor built with them.
    The mean and scale are stored on the module (``predictor.target_mean/target_std``) so that
    `predict` returns values in the units of ``targets``.
    """
    device = next(predictor.parameters()).device
    batch, targets = batch.to(device), targets.to(device)
    extra = extra.to(device) if extra is not None else None
    mean = targets.mean()
    std = targets.std().clamp_min(1e-6) if targets.numel() > 1 else torch.ones((), device=device)
    predictor.register_buffer("target_mean", mean.detach().clone())
    predictor.register_buffer("target_std", std.detach().clone())
    scaled = (targets - mean) / std
    optimizer = torch.optim.AdamW(predictor.parameters(), lr=lr, weight_decay=weight_decay)
    predictor.train()
    for _ in range(epochs):
        loss = nn.functional.mse_loss(predictor(batch, extra), scaled)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return predictor.eval()


@torch.no_grad()
def predict(predictor: GNNPredictor, batch: Batch, extra: Tensor | None = None) -> Tensor:
    """``(num_graphs,)`` predictions in target units (``extra``: as in `fit_predictor`)."""
    predictor.eval()
    device = next(predictor.parameters()).device
    raw = predictor(batch.to(device), extra.to(device) if extra is not None else None)
    return raw * predictor.target_std + predictor.target_mean


def fit_icnn(icnn: ICNN, z: Tensor, targets: Tensor, weights: Tensor, *, steps: int, lr: float) -> ICNN:
    """Full-batch weighted MSE fit of the ICNN to ``targets (N,)`` at fixed codes ``z (N, d)``."""
    optimizer = torch.optim.Adam(icnn.parameters(), lr=lr)
    weights = weights / weights.sum()
    icnn.train()
    for _ in range(steps):
        loss = (weights * (icnn(z) - targets).pow(2)).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return icnn.eval()


def fit_vae_icnn(
    vae: GraphVAE,
    icnn: ICNN,
    batch: Batch,
    genotypes: list,
    targets: Tensor,
    labelled: Tensor,
    config: SemiSupervisedConfig,
    *,
    generator: torch.Generator,
    progress: bool = True,
) -> None:
    """Joint fit of VAE + ICNN on all graphs of ``batch`` (labels or pseudo-labels).

    Args:
        targets: ``(N,)`` error of each graph: its label when ``labelled`` else a pseudo-label.
        labelled: ``(N,)`` bool; labelled graphs weigh ``config.label_weight`` in the MSE.
    """
    device = next(vae.parameters()).device
    recon_targets = vae.decoder.targets(genotypes)
    weights = torch.where(labelled, torch.tensor(config.label_weight), torch.tensor(1.0))
    params = list(vae.parameters()) + list(icnn.parameters())
    optimizer = torch.optim.Adam(params, lr=config.joint_lr)
    steps = config.joint_epochs * ((len(genotypes) + config.joint_batch_size - 1) // config.joint_batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1))
    vae.train(), icnn.train()
    for _ in tqdm(range(config.joint_epochs), desc="fit VAE+ICNN", disable=not progress, leave=False):
        for index in _minibatches(len(genotypes), config.joint_batch_size, generator):
            out = vae(subset_batch(batch, index).to(device), generator=None)
            w = weights[index].to(device)
            mse = (w * (icnn(out.z) - targets[index].to(device)).pow(2)).sum() / w.sum()
            loss = (
                vae.decoder.loss(out.logits, recon_targets[index].to(device))
                + config.beta * vae.kl(out.posterior)
                + config.prediction_weight * mse
            )
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, config.grad_clip)
            optimizer.step()
            schedule.step()
    vae.eval(), icnn.eval()


def refit_vae_icnn(
    vae: GraphVAE,
    head: nn.Module,
    graphs: GraphBank,
    recon_targets: Tensor,
    targets: Tensor,
    labelled: Tensor,
    *,
    epochs: float,
    batch_size: int,
    lr: float,
    beta: float,
    weight: float,
    label_weight: float,
    grad_clip: float = 5.0,
    betas: tuple[float, float] = (0.9, 0.999),
    generator: torch.Generator,
) -> float:
    """Warm-started joint fit of the VAE and its latent head (ICNN or MLP) on every cell.

    ``ceil(epochs * N / batch_size)`` Adam steps; each minibatch is every labelled cell plus
    ``batch_size`` cells drawn at random from all ``N`` (so over the fit every cell is seen about
    ``epochs`` times and the labels in every step). Loss per step:
    ``recon + beta * KL + weight * sum(w * (head(z) - target)^2) / sum(w)`` with ``w`` =
    ``label_weight`` on labelled cells and 1 elsewhere. Reparameterization noise comes from the
    global torch RNG (callers seed it, e.g. inside ``torch.random.fork_rng``).

    Args:
        graphs: the ``N`` cells' graphs (``select(index)`` -> PyG batch).
        recon_targets: ``(N, ...)`` the decoder's targets of the cells (`GenotypeDecoder.targets`).
        targets: ``(N,)`` standardized error of every cell: label or pseudo-label.
        labelled: ``(L,)`` positions of the labelled cells.

    Returns:
        The mean prediction MSE over the last tenth of the steps (for logs and tests).
    """
    device = next(vae.parameters()).device
    n = targets.shape[0]
    steps = max(1, int(-(-epochs * n // batch_size)))
    params = list(vae.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=lr, betas=betas)
    tail: list[Tensor] = []
    vae.train(), head.train()
    for step in range(steps):
        others = torch.randint(n, (batch_size,), generator=generator)
        index = torch.cat([labelled, others])
        w = torch.ones(index.shape[0])
        w[: labelled.shape[0]] = label_weight
        w = w.to(device)
        out = vae(graphs.select(index).to(device))
        mse = (w * (head(out.z) - targets[index].to(device)).pow(2)).sum() / w.sum()
        loss = vae.decoder.loss(out.logits, recon_targets[index].to(device)) + beta * vae.kl(out.posterior) + weight * mse
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, grad_clip)
        optimizer.step()
        if step >= steps - max(1, steps // 10):
            tail.append(mse.detach())
    vae.eval(), head.eval()
    return float(torch.stack(tail).mean())


def fit_minibatch_mse(module: nn.Module, inputs: Tensor | Callable[[Tensor], object], targets: Tensor, *, epochs: int,
                      lr: float, batch: int, generator: torch.Generator, jitter: float = 0.0) -> None:
    """Adam (betas (0, 0.5), the public CR-LSO code's) on MSE over ``epochs`` shuffled passes of minibatches.

    ``inputs`` is a tensor of codes ``(N, d)`` (each minibatch jittered by Gaussian noise of std ``jitter``) or a
    callable ``index (B,) -> model input``; ``targets (N,)``. The module is left in eval mode.
    """
    optimizer = torch.optim.Adam(module.parameters(), lr=lr, betas=(0.0, 0.5))
    device = targets.device
    module.train()
    for _ in range(epochs):
        for index in torch.randperm(targets.shape[0], generator=generator).split(batch):
            if callable(inputs):
                x = inputs(index)
            else:
                x = inputs[index.to(device)]
                if jitter:
                    x = x + jitter * torch.randn(x.shape, generator=generator).to(device)
            loss = nn.functional.mse_loss(module(x), targets[index.to(device)])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    module.eval()
