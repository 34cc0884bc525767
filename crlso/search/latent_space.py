"""The latent space a CR-LSO search moves in: its own VAE, the cells it knows and their codes.

Every latent searcher starts from the graph VAE pre-trained on the space's cells *without labels*
(`latent_model`: cached on disk, shared by seeds and searchers; see `crlso.models.training` and
`crlso.models.cells`) or from a model that ``crlso train`` fitted. It takes its own copy of the VAE, so
that `LatentSpace.regularize` can re-shape the space as labels arrive: a warm-started joint fit of
the VAE and a latent head (the ICNN, or its non-convex MLP twin in ablations) on every cell, each
with its label or a pseudo-label (`crlso.models.training.refit_vae_icnn`), after which all codes are
re-encoded. Gradient steps (`descend`), noise and decoding then happen in the re-shaped space.

In a space that cannot be enumerated (``darts``) the cells grow during a search: every genotype
met outside the training cells is encoded and appended when first looked up (`positions`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from typing import Any
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import Tensor, nn

from nasspace import Genotype
from nasspace.options import AT_LEAST_ONE, POSITIVE, Bounds, check_numbers, check_value

from crlso.models.cells import training_cells_batch
from crlso.search.base import Searcher
from crlso.models.graphs import GraphBank, featurizer_for
from crlso.models.config import ModelConfig, PretrainConfig, build_predictor, default_device
from crlso.models.icnn import create_head
from crlso.models.training import cached_pretrained_vae, encode, refit_vae_icnn
from crlso.models.vae import GraphVAE
from crlso.errors import ConfigError

__all__ = ["LatentSpace", "LatentSearcher", "JointFitConfig", "build_latent_space", "latent_model", "errors_of"]


@lru_cache(maxsize=2)
def latent_model(model: ModelConfig, pretrain: PretrainConfig, cache_dir: str = "") -> tuple:
    """(vae, cells, batch, mu (N, d)) of the cached unlabelled VAE; one per process and config.

    ``cells`` are the space's training cells (`crlso.models.cells.training_cells`, darts from the default
    data folder); callers must not modify the returned objects (they are shared).
    """
    # progress on: a first search pre-trains for about a minute; the status line says so (and that it is cached)
    vae, _ = cached_pretrained_vae(model, pretrain, cache_dir=cache_dir or None, device=default_device(), progress=True)
    cells, batch = training_cells_batch(model.space)
    mu = encode(vae, batch)
    return vae, cells, batch, mu


def errors_of(values: list[float]) -> Tensor:
    """``(N,)`` errors ``1 - value/100`` of accuracies in percent (what the ICNN and predictor model; any other
    higher-is-better metric maps to them in the same order, and the fits standardize their targets)."""
    return torch.tensor([1.0 - v / 100.0 for v in values], dtype=torch.float32)


@dataclass(frozen=True)
class JointFitConfig:
    """One joint VAE + head fit during a search (`LatentSpace.regularize`).

    ``epochs`` passes over all cells (each minibatch also holds every labelled cell), Adam at
    ``lr`` with ``adam_betas``; loss = reconstruction + ``beta`` * KL + ``weight`` * MSE, labelled cells weighing
    ``label_weight``.
    """

    epochs: float = 1.0
    batch_size: int = 256
    lr: float = 5e-4
    beta: float = 0.005
    weight: float = 1.0
    label_weight: float = 5.0
    adam_betas: tuple[float, float] = (0.9, 0.999)

    def __post_init__(self) -> None:
        check_numbers(self, {"batch_size": AT_LEAST_ONE, "lr": POSITIVE})
        if len(self.adam_betas) != 2:
            raise ConfigError(f"option adam_betas={self.adam_betas!r} needs two values; allowed: each >= 0 and < 1")
        for beta in self.adam_betas:
            check_value("adam_betas", beta, Bounds(0.0, 1.0, high_open=True))


class LatentSpace:
    """A searcher's own VAE, the cells it knows (``cells``, positions ``index``) and their codes ``mu (N, d)``.

    Args:
        model: sizes of the VAE (its ``space`` names the cells).
        pretrain: the unlabelled pre-training whose cached VAE this starts from.
        cache_dir: cache folder of that VAE ("" for the default).
        vae_state: a VAE ``state_dict`` to start from instead (a ``crlso train`` model).
    """

    def __init__(self, model: ModelConfig, pretrain: PretrainConfig, cache_dir: str = "", *,
                 vae_state: Mapping[str, Tensor] | None = None):
        shared_vae, cells, batch, mu = latent_model(model, pretrain, cache_dir)
        self.vae: GraphVAE = copy.deepcopy(shared_vae)  # the shared model is never trained
        self.cells: tuple[Genotype, ...] = tuple(cells)
        self.bank = GraphBank(batch, featurizer_for(model.space))  # grows with `positions` (never the shared batch)
        self.index = {str(g): i for i, g in enumerate(self.cells)}
        self.device = mu.device
        if vae_state is not None:
            try:
                self.vae.load_state_dict(vae_state)
            except RuntimeError as exc:
                raise ConfigError(f"the given VAE weights do not fit a VAE of these sizes ({str(exc).splitlines()[0]})") from None
            mu = encode(self.vae, self.bank)
        self.mu = mu
        self._recon: Tensor | None = None  # decoder targets of every cell, built at the first regularize
        self.refits = 0
        self.refit_seconds: list[float] = []  # wall time of each joint fit (re-encoding included)

    def __len__(self) -> int:
        return len(self.cells)

    @property
    def scale(self) -> float:
        """RMS spread of the codes over the latent dimensions (steps and noise are in these units)."""
        return float(self.mu.std(dim=0).pow(2).mean().sqrt())

    def positions(self, genotypes: Sequence[Genotype]) -> Tensor:
        """Positions ``(len(genotypes),)`` of genotypes among the cells; unknown ones are appended first."""
        new: dict[str, Genotype] = {}
        for genotype in genotypes:
            key = str(genotype)
            if key not in self.index and key not in new:
                new[key] = genotype
        if new:
            self._append(list(new.values()))
        return torch.tensor([self.index[str(g)] for g in genotypes], dtype=torch.long)

    def codes(self, genotypes: Sequence[Genotype]) -> Tensor:
        """``(len(genotypes), d)`` posterior means of genotypes (appended when unknown)."""
        return self.mu[self.positions(genotypes).to(self.device)]

    def _append(self, genotypes: list[Genotype]) -> None:
        start = len(self.cells)
        self.bank.extend(genotypes)
        mu = encode(self.vae, self.bank.select(range(start, start + len(genotypes))))
        self.mu = torch.cat([self.mu, mu.to(self.device)])  # a new tensor: the shared one is untouched
        self.cells = self.cells + tuple(genotypes)
        self.index.update({str(g): start + i for i, g in enumerate(genotypes)})
        if self._recon is not None:
            self._recon = torch.cat([self._recon, self.vae.decoder.targets(genotypes)])

    def regularize(self, head: nn.Module, targets: Tensor, labelled: Tensor, config: JointFitConfig, *, seed: int) -> float:
        """Joint warm-started fit of the VAE and ``head`` on every cell, then re-encode all codes.

        Args:
            head: the latent error model (ICNN or MLP), trained in place.
            targets: ``(N,)`` standardized error of every cell (label where known, else pseudo-label).
            labelled: ``(L,)`` positions of the labelled cells.
            seed: seeds the minibatch draws and the reparameterization noise.

        Returns:
            The prediction MSE at the end of the fit.
        """
        start = time.perf_counter()
        if self._recon is None:
            self._recon = self.vae.decoder.targets(self.cells)
        generator = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            mse = refit_vae_icnn(self.vae, head, self.bank, self._recon, targets, labelled, epochs=config.epochs,
                                 batch_size=config.batch_size, lr=config.lr, beta=config.beta, weight=config.weight,
                                 label_weight=config.label_weight, betas=tuple(config.adam_betas), generator=generator)
        self.mu = encode(self.vae, self.bank).to(self.device)
        if self.device.type == "cuda":  # the time of the fit, not of its queueing (outside any training step)
            torch.cuda.synchronize(self.device)
        self.refits += 1
        self.refit_seconds.append(time.perf_counter() - start)
        return mse

    def descend(self, head: nn.Module, starts: Tensor, *, step: float, steps: int) -> list[Tensor]:
        """Codes ``[(M, d)] * steps`` visited by unit-direction steps downhill on ``head`` from ``starts (M, d)``.

        Each step is ``z <- z - step * scale * g / |g|`` with ``g = d head / d z`` (w.r.t. z only).
        """
        z, visited, scale = starts, [], self.scale
        for _ in range(steps):
            g = head.grad(z)
            z = (z - step * scale * g / g.norm(dim=1, keepdim=True).clamp_min(1e-12)).detach()
            visited.append(z)
        return visited

    def decode(self, z: Tensor) -> list[Genotype]:
        """``z (B, d)`` -> B valid genotypes (the decoder's most likely)."""
        return self.vae.decoder.decode(z)


def build_latent_space(config: Any, space_name: str) -> tuple[ModelConfig, LatentSpace]:
    """The model config and the latent space a latent searcher starts from.

    ``config`` is a latent searcher's config (``model``, ``pretrain``, ``cache_dir``, ``model_dir``).

    With ``model_dir`` the VAE of that ``crlso train`` folder (and its model sizes) replaces the
    unlabelled pre-train; the ICNN and predictor are fitted to the search's own queries.

    Raises:
        ValueError: the model config or the trained model is of another space.
    """
    if config.model_dir:
        from crlso.models.checkpoints import load_trained_vae

        model, state = load_trained_vae(config.model_dir, space=space_name)
        return model, LatentSpace(model, config.pretrain, config.cache_dir, vae_state=state)
    if config.model.space != space_name:
        raise ConfigError(f"the model config is for space {config.model.space!r}, the search is on {space_name!r}")
    return config.model, LatentSpace(config.model, config.pretrain, config.cache_dir)


class LatentSearcher(Searcher):
    """A searcher that moves in a `LatentSpace` guided by a latent error head (``icnn``).

    It builds what every latent searcher starts from: the model config and latent space of its config
    (`build_latent_space`: the cached unlabelled VAE, or a ``crlso train`` model), the device, a seeded CPU
    ``generator``, the GNN ``predictor`` and the latent head (``head`` option: ``icnn`` or ``mlp``), both
    initialized under the seed. A subclass that feeds the predictor extra per-cell features sets ``features``
    in `load_features` (called once the latent space exists). The head models ``(error - target_mean) / target_std``.
    """

    features: Any = None  # a `crlso.oracles.zero_cost.ProxyTable` whose ``dim`` widens the predictor's input

    def __init__(self, space, *, seed: int, config: Any = None):
        super().__init__(space, seed=seed, config=config)
        cfg = self.config
        self.model_config, self.latent = build_latent_space(cfg, space.name)
        self.device = self.latent.device
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        self.load_features()
        m = self.model_config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            extra_dim = self.features.dim if self.features is not None else 0
            self.predictor = build_predictor(m, extra_dim=extra_dim).to(self.device)
            self.icnn = create_head(getattr(cfg, "head", "icnn"), m.latent_dim, hidden=m.icnn_hidden,
                                    num_layers=m.icnn_layers, activation=m.icnn_activation).to(self.device)
        self.target_mean, self.target_std = 0.0, 1.0
        self.rounds = 0

    def load_features(self) -> None:
        """Set ``features`` (extra predictor inputs) once ``latent`` exists; none by default."""

    def predicted_error(self, z: Tensor) -> Tensor:
        """``(B,)`` the head's error (in error units) at codes ``z (B, d)``."""
        with torch.no_grad():
            return self.icnn(z).cpu() * self.target_std + self.target_mean

    def model_scores(self) -> dict[str, float]:
        """The head's predicted error of every cell the latent space knows (for a final Kendall tau)."""
        return {str(g): s for g, s in zip(self.latent.cells, self.predicted_error(self.latent.mu).tolist())}

    def stats(self) -> dict[str, Any]:
        """Rounds and joint fits so far, each fit's wall seconds and the device (run folders record it in
        ``summary.json``)."""
        return {"rounds": self.rounds, "joint_fits": self.latent.refits, "cells_in_latent_space": len(self.latent),
                "joint_fit_seconds": [round(s, 3) for s in self.latent.refit_seconds], "device": str(self.latent.device)}

    def latent_state(self) -> dict:
        """The space the search ended in: model sizes, VAE and head weights, the head's target scale."""
        import dataclasses

        return {
            "model_config": dataclasses.asdict(self.model_config),
            "vae": {k: v.detach().cpu() for k, v in self.latent.vae.state_dict().items()},
            "head": {k: v.detach().cpu() for k, v in self.icnn.state_dict().items()},
            "head_kind": getattr(self.config, "head", "icnn"),
            "target_mean": self.target_mean,
            "target_std": self.target_std,
        }
