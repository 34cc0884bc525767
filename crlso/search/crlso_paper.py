"""CR-LSO as the public code runs it (paper mode), with its sign error corrected, and its ablation switches.

Method ``crlso-paper``. Per seed (see ALGORITHMS.md, "Search loop of the public code"):

1. ``n_init`` seeded random cells, counted against the budget (source ``init``). The public code
   starts from 300 labelled cells for a budget of 500; B1's budgets (50 to 200) cannot afford that,
   so the default is the 10 that every searcher here starts from.
2. Once, at ``n_init`` labels: fit the GNN predictor on them (Adam lr 1e-4, betas (0, 0.5),
   ``predictor_epochs`` epochs of minibatches of 32); pseudo-label every cell (labelled cells keep
   their label); fit the VAE and the ICNN jointly on every cell (reconstruction + 0.005 KL + 1.0 MSE,
   Adam lr ``joint.lr``, ``joint.epochs`` epochs; warm-started from the cached unlabelled VAE).
   The VAE is then frozen. With ``regularize=False`` (variant ``paper-noreg``) the unlabelled VAE is
   kept as it is and the ICNN is fitted afterwards on its frozen codes, same targets and epochs.
3. Each round: fine-tune the ICNN on the labelled codes (``ft_epochs`` epochs of minibatches of 32,
   lr 1e-4, Gaussian input jitter ``jitter``); take the ``top_k`` best labelled codes; add Gaussian
   noise ``noise``; take one step ``step_size`` *downhill* on the ICNN (the public code goes uphill:
   its sign error); decode; while the decoding was already seen (evaluated, or taken earlier in the
   round) redraw the noise and grow the step by ``step_growth``, at most ``max_retries`` times
   (unbounded in the public code); propose the new cells (``batch_size`` per round; random cells fill
   what the retries could not, source ``fill``). The code that decoded to a queried cell is stored as
   that cell's labelled code, as the public code does. No predictor ranking, no neighbours.

Switches for the ablation (`crlso.variants`): ``head="mlp"`` (a non-convex MLP in place of the
ICNN, in the joint fit and the search); ``step_size=0, step_growth=0`` (noise only, no gradient);
``rereg_growth > 1`` (paper + periodic joint refits: whenever the labelled set has grown by that
factor the predictor is refitted on every label, every cell pseudo-labelled again, the VAE + ICNN
fit resumed warm and all codes re-encoded).

Choices of ours: noise, steps and jitter are in units of the codes' RMS spread (our codes spread
about 0.2 per dimension; the public values are absolute in a latent scale we do not know); the step
is along the unit gradient direction; the ICNN models standardized error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from nasspace import Genotype
from nasspace.options import AT_LEAST_ONE, POSITIVE, check_numbers

from crlso.search.base import register_searcher, sample_unseen_batch
from crlso.search.latent_space import JointFitConfig, LatentSearcher, errors_of
from crlso.models.config import ModelConfig, PretrainConfig
from crlso.models.training import fit_minibatch_mse, predict

__all__ = ["PaperCRLSOSearch", "PaperConfig"]


def _paper_joint() -> JointFitConfig:
    return JointFitConfig(epochs=200, lr=1e-4, beta=0.005, weight=1.0, label_weight=1.0, adam_betas=(0.0, 0.5))


@dataclass(frozen=True)
class PaperConfig:
    """Options of paper-mode CR-LSO (defaults: the public code's settings, see the module doc)."""

    n_init: int = 10
    batch_size: int = 10
    top_k: int = 10
    noise: float = 0.5
    step_size: float = 0.2
    step_growth: float = 0.2
    max_retries: int = 20
    predictor_epochs: int = 200
    predictor_lr: float = 1e-4
    ft_epochs: int = 50
    ft_lr: float = 1e-4
    jitter: float = 0.05
    minibatch: int = 32
    head: str = "icnn"
    regularize: bool = True
    rereg_growth: float = 0.0
    joint: JointFitConfig = field(default_factory=_paper_joint)
    model_dir: str = ""
    cache_dir: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)

    def __post_init__(self) -> None:  # step_size 0 is the paper-nograd variant
        check_numbers(self, {**dict.fromkeys(("n_init", "batch_size", "top_k", "minibatch"), AT_LEAST_ONE),
                             **dict.fromkeys(("predictor_lr", "ft_lr"), POSITIVE)})


@register_searcher("crlso-paper")
class PaperCRLSOSearch(LatentSearcher):
    """The public CR-LSO search loop, sign corrected and bounded (see the module doc)."""

    Config = PaperConfig

    def __init__(self, space, *, seed: int, config: PaperConfig | None = None):
        super().__init__(space, seed=seed, config=config)
        self.codes: dict[str, Tensor] = {}  # labelled cell -> its stored code (encoding, or the step that found it)
        self.fitted_at = 0  # labelled cells at the last (joint or ICNN) fit of the whole space; 0: none yet

    # -- models -----------------------------------------------------------------------------------
    def _fit_space(self) -> None:
        """Predictor on the labels; pseudo-labels for all cells; the joint fit (or the ICNN on frozen codes)."""
        cfg = self.config
        labelled = self.latent.positions([g for g, _ in self.observed])
        errors = errors_of([v for _, v in self.observed]).to(self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed * 7919 + self.fitted_at)
            graphs = self.latent.bank
            fit_minibatch_mse(self.predictor, lambda index: graphs.select(labelled[index]).to(self.device),
                           (errors - errors.mean()) / errors.std().clamp_min(1e-6), epochs=cfg.predictor_epochs,
                           lr=cfg.predictor_lr, batch=cfg.minibatch, generator=self.generator)
        self.predictor.register_buffer("target_mean", errors.mean().detach())
        self.predictor.register_buffer("target_std", errors.std().clamp_min(1e-6).detach())
        targets = predict(self.predictor, self.latent.bank.everything()).cpu()
        targets[labelled] = errors.cpu()
        self.target_mean, self.target_std = float(targets.mean()), float(targets.std().clamp_min(1e-6))
        scaled = (targets - self.target_mean) / self.target_std
        if cfg.regularize:
            self.latent.regularize(self.icnn, scaled, labelled, cfg.joint, seed=self.seed * 1009 + self.latent.refits)
        else:  # the frozen unlabelled space: the ICNN alone on its codes, same targets and epochs
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed * 1009)
                fit_minibatch_mse(self.icnn, self.latent.mu, scaled.to(self.device), epochs=max(1, round(cfg.joint.epochs)),
                               lr=cfg.joint.lr, batch=cfg.joint.batch_size, generator=self.generator)
        self.codes = {str(g): z for (g, _), z in zip(self.observed, self.latent.mu[labelled.to(self.device)])}
        self.fitted_at = len(self.observed)

    def _fine_tune(self) -> None:
        """The ICNN on the stored labelled codes, with input jitter."""
        cfg = self.config
        z = torch.stack([self.codes[str(g)] for g, _ in self.observed])
        errors = (errors_of([v for _, v in self.observed]).to(self.device) - self.target_mean) / self.target_std
        fit_minibatch_mse(self.icnn, z, errors, epochs=cfg.ft_epochs, lr=cfg.ft_lr, batch=cfg.minibatch,
                       generator=self.generator, jitter=cfg.jitter * self.latent.scale)

    # -- ask / tell -------------------------------------------------------------------------------
    def tell(self, genotypes, values) -> None:
        super().tell(genotypes, values)
        for genotype in genotypes:  # a queried cell without a stored step (init, fill) keeps its encoding
            key = str(genotype)
            if key not in self.codes and self.fitted_at:
                self.codes[key] = self.latent.codes([genotype])[0]

    def ask(self, n: int) -> list[Genotype]:
        cfg = self.config
        if len(self.observed) < cfg.n_init:
            return self.mark(sample_unseen_batch(self.space, self.rng, self.seen, min(n, cfg.n_init - len(self.observed))), "init")
        if not self.fitted_at or (cfg.rereg_growth > 1 and len(self.observed) >= cfg.rereg_growth * self.fitted_at):
            self._fit_space()
        self._fine_tune()
        self.rounds += 1
        return self._step(min(n, cfg.batch_size))

    def _step(self, want: int) -> list[Genotype]:
        """One noisy gradient step from each of the best labelled codes; retried (bounded) on a seen decoding."""
        cfg = self.config
        ranked = sorted(self.observed, key=lambda item: -item[1])[: cfg.top_k]
        scale = self.latent.scale
        chosen: dict[str, Genotype] = {}
        for genotype, value in ranked:
            if len(chosen) >= want:
                break
            z0, step = self.codes[str(genotype)].unsqueeze(0), cfg.step_size
            for _ in range(cfg.max_retries + 1):
                start = z0 + cfg.noise * scale * torch.randn(z0.shape, generator=self.generator).to(self.device)
                g = self.icnn.grad(start)
                end = start - step * scale * g / g.norm(dim=1, keepdim=True).clamp_min(1e-12)
                decoded = self.latent.decode(end)[0]
                key = str(decoded)
                if key not in self.seen and key not in chosen:
                    chosen[key] = decoded
                    self.codes[key] = end[0].detach()
                    self.provenance_of[key] = {
                        "source": "latent", "start": str(genotype), "start_value": value,
                        "icnn_start": float(self.predicted_error(start)[0]), "icnn_end": float(self.predicted_error(end)[0]),
                    }
                    break
                step += cfg.step_growth
        picks = list(chosen.values())
        pending = set(self.seen) | set(chosen)
        return picks + self.mark(sample_unseen_batch(self.space, self.rng, pending, want - len(picks)), "fill")
