"""CR-LSO: search by gradient descent on an input-convex error model in a re-regularized graph-VAE latent space.

Per seed (all of it driven by `ask`/`tell`):

1. Start from the graph VAE pre-trained on the space's cells *without labels* (cached, shared by
   seeds; or a ``crlso train`` model with ``model_dir``), in a `LatentSpace` of the searcher's own.
2. Evaluate ``n_init`` initial cells (they count against the budget): seeded random cells (source
   ``init``), or with ``init="zc"`` the top of a zero-cost proxy ensemble (source ``init-zc``: the
   rank-average of the ``init_proxies`` scores read from the proxy cache, `crlso.oracles.zero_cost`;
   ``init_pool > 0`` draws the ``n_init`` cells, seeded, from the ensemble's top ``init_pool``).
3. Each round: fit the GNN predictor on the evaluated cells (error = 1 - acc/100, warm-started).
   **Regularize** (``regularize``, default on) when the labelled set has grown by ``reg_growth``
   since the last time (first at ``n_init``): pseudo-label every cell with the predictor (queried
   cells keep their value), then fit the VAE and the ICNN *jointly* on every cell, warm-started
   (`LatentSpace.regularize`: reconstruction + beta * KL + weight * MSE(ICNN(z), target)), and
   re-encode every code. In the rounds between, the ICNN alone is fine-tuned on the current codes
   (labels + a seeded subset of ``pseudo_size`` pseudo-labels, labels weighted up). With
   ``regularize=False`` the VAE stays the unlabelled one and only that ICNN fit runs (the frozen
   space of the ablation).
   With ``proxy_features`` (proxy names or cache files) the predictor's head reads each cell's
   rank-normalized proxy scores beside its GNN readout: free inputs (no query, no label), never
   targets; the predictor's targets stay the observed errors. Proxy names are looked up under
   ``proxy_dir`` (default: ``cache_dir``, else ``$CRLSO_CACHE_DIR``), in ``zero-cost/<space>/``.
   Then from the ``top_k`` best evaluated codes, each perturbed with Gaussian noise ``starts``
   times, take ``steps`` steps *downhill* on the ICNN (`LatentSpace.descend`: unit direction, step
   ``step_size`` in units of the codes' RMS spread), decoding after every step (source ``latent``).
   Decoded cells already evaluated or already in the pool are dropped; while the pool is short of
   ``pool_factor * batch_size`` the round is retried with step and noise grown by ``step_growth``
   (at most ``max_retries`` times; then random unseen cells fill the gap, source ``fill``).
   Optionally (``global_starts > 0``) codes of random cells are descended for ``global_steps``
   steps and their decodings join the pool (source ``global``). The unseen one-edge neighbours of
   the ``neighbour_top`` best evaluated cells join the pool (source ``neighbour``).
   The pool is ranked by predicted error (``rank_by``: the GNN predictor or the ICNN) and the best
   ``min(batch_size, n)`` are proposed, so a round never asks for more than the budget left.
4. Stalls (``stall_rounds > 0``): once ``stall_rounds`` rounds in a row brought no better value,
   ``stall_action`` decides the next rounds. ``"neighbours"``: until the best value improves, the
   incumbent's unseen one-edge neighbours go first (predictor-ranked; source ``stall``).
   ``"explore"``: one restart round whose candidates all lie ``explore_distance`` or more edges
   from the incumbent (decodings of descents from random codes and from the best evaluated cells
   that far away; source ``explore``).

Every proposal carries its provenance (`Searcher.provenance`): latent proposals also name the
evaluated cell they started from and the ICNN's predicted error at the start and the end of the
descent. ``head="mlp"`` swaps the ICNN for a non-convex MLP of the same size (an ablation).

Choices not fixed by the paper or public code (documented, configurable): unit-norm gradient
steps; re-regularization on a growth schedule, warm-started, with every labelled cell in every
minibatch; the neighbour candidates and stall handling above (edge distance = Hamming distance of
the per-edge parts of the genotype string, exact for NB201); the predictor (not the ICNN) ranks the
pool by default. The published loop itself is `crlso.search.crlso_paper`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from nasspace import Genotype
from nasspace.options import AT_LEAST_ONE, POSITIVE, check_numbers

from crlso.models.cells import is_enumerated
from crlso.oracles.zero_cost import ProxyTable, parse_proxy_list, proxy_table
from crlso.search.base import register_searcher, sample_unseen_batch
from crlso.search.latent_space import JointFitConfig, LatentSearcher, errors_of
from crlso.models.config import ModelConfig, PretrainConfig, default_cache_dir
from crlso.models.training import fit_icnn, fit_predictor, predict
from crlso.errors import ConfigError

__all__ = ["CRLSOSearch", "CRLSOConfig", "JointFitConfig", "config_from_dict", "errors_of",
           "check_zero_cost_options"]

# Options that must be >= 1 or > 0 (every other numeric option must be finite and >= 0).
CRLSO_BOUNDS = {
    **dict.fromkeys(("n_init", "batch_size", "top_k", "starts", "steps", "pool_factor", "explore_distance"), AT_LEAST_ONE),
    **dict.fromkeys(("step_size", "predictor_lr", "icnn_lr"), POSITIVE),
}
_RANKERS = ("predictor", "icnn")
_STALL_ACTIONS = ("explore", "neighbours")
_INITS = ("random", "zc")


@dataclass(frozen=True)
class CRLSOConfig:
    """Options of the CR-LSO searcher (model sizes, pre-training and the joint fit are nested configs)."""

    n_init: int = 10
    batch_size: int = 5
    top_k: int = 5
    starts: int = 8
    steps: int = 6
    step_size: float = 0.5
    noise: float = 0.3
    step_growth: float = 2.0
    max_retries: int = 4
    pool_factor: int = 4
    global_starts: int = 0
    global_steps: int = 20
    neighbour_top: int = 3
    stall_rounds: int = 2
    stall_action: str = "neighbours"
    explore_starts: int = 32
    explore_distance: int = 3
    rank_by: str = "predictor"
    head: str = "icnn"
    regularize: bool = True
    reg_growth: float = 1.5
    joint: JointFitConfig = field(default_factory=JointFitConfig)
    predictor_epochs: int = 150
    predictor_refit_epochs: int = 30
    predictor_lr: float = 3e-3
    icnn_steps: int = 150
    icnn_refit_steps: int = 50
    icnn_lr: float = 1e-2
    label_weight: float = 20.0
    pseudo_size: int = 2048
    model_dir: str = ""
    cache_dir: str = ""
    init: str = "random"
    init_proxies: str = "synflow,params"
    init_pool: int = 0
    proxy_features: str = ""
    proxy_dir: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)

    def __post_init__(self) -> None:
        check_numbers(self, CRLSO_BOUNDS)
        check_zero_cost_options(self)


def check_zero_cost_options(config: CRLSOConfig) -> None:
    """Refuse a bad ``rank_by``, ``stall_action``, ``init``, ``init_proxies`` or ``proxy_features`` value (before
    any work; the hybrid's config calls it too).

    Raises:
        ValueError: names the option and what is allowed.
    """
    if config.rank_by not in _RANKERS:
        raise ConfigError(f"unknown rank_by {config.rank_by!r}; valid: {', '.join(_RANKERS)}")
    if config.stall_action not in _STALL_ACTIONS:
        raise ConfigError(f"unknown stall_action {config.stall_action!r}; valid: {', '.join(_STALL_ACTIONS)}")
    if config.init not in _INITS:
        raise ConfigError(f"unknown init {config.init!r}; valid: {', '.join(_INITS)}")
    if config.init == "zc":
        parse_proxy_list(config.init_proxies, option="init_proxies")
    if config.proxy_features:
        parse_proxy_list(config.proxy_features, option="proxy_features")


@register_searcher("crlso")
class CRLSOSearch(LatentSearcher):
    """CR-LSO with a small seeded initial set grown during the search (see the module doc)."""

    Config = CRLSOConfig

    def __init__(self, space, *, seed: int, config: CRLSOConfig | None = None):
        super().__init__(space, seed=seed, config=config)
        cfg = self.config
        self.init_order: list[Genotype] = []  # init="zc": the latent space's cells, best ensemble score first
        if cfg.init == "zc":
            ensemble = self._proxy_table(cfg.init_proxies, "init_proxies").ensemble([str(g) for g in self.latent.cells])
            self.init_order = [self.latent.cells[i] for i in torch.argsort(-ensemble, stable=True).tolist()]
        self.regularized_at = 0  # labelled cells at the last joint fit (0: none yet)
        self.best_value = float("-inf")
        self.stalled = 0  # rounds in a row whose answers did not beat the best value
        # A fixed seeded subset of cells carries the pseudo-labels of the ICNN fits between joint fits.
        count = min(cfg.pseudo_size, len(self.latent))
        self.pseudo_index = torch.randperm(len(self.latent), generator=self.generator)[:count]

    def load_features(self) -> None:
        """``proxy_features``: the zero-cost scores the predictor reads beside each cell's graph."""
        if self.config.proxy_features:
            self.features = self._proxy_table(self.config.proxy_features, "proxy_features")

    def _proxy_table(self, text: str, option: str) -> ProxyTable:
        """The proxies of an option, ranked among the latent space's cells (every one scored in nb201)."""
        cfg = self.config
        return proxy_table(text, space=self.space.name, cache_dir=cfg.proxy_dir or cfg.cache_dir or default_cache_dir(),
                           reference=[str(g) for g in self.latent.cells], option=option,
                           require_all=is_enumerated(self.space.name))

    # -- models -----------------------------------------------------------------------------------
    def _extra(self, index: Tensor | None = None) -> Tensor | None:
        """``(K, k)`` proxy features of the latent cells at ``index`` (None: all), or None without features."""
        if self.features is None:
            return None
        cells = self.latent.cells
        keys = [str(g) for g in cells] if index is None else [str(cells[i]) for i in index.tolist()]
        return self.features.features(keys)

    def _predict(self, index: Tensor | None = None) -> Tensor:
        """``(K,)`` the predictor's error of the latent cells at ``index`` (None: every cell), on the CPU."""
        batch = self.latent.bank.everything() if index is None else self.latent.bank.select(index)
        return predict(self.predictor, batch, self._extra(index)).cpu()

    def _refit(self) -> None:
        """Fit the predictor on what was observed; then the joint VAE + ICNN fit or the ICNN alone."""
        cfg = self.config
        first = self.rounds == 0
        labelled = self.latent.positions([g for g, _ in self.observed])
        errors = errors_of([v for _, v in self.observed])
        fit_predictor(self.predictor, self.latent.bank.select(labelled), errors,
                      epochs=cfg.predictor_epochs if first else cfg.predictor_refit_epochs, lr=cfg.predictor_lr,
                      extra=self._extra(labelled))
        if cfg.regularize and (self.regularized_at == 0 or len(labelled) >= cfg.reg_growth * self.regularized_at):
            self._regularize(labelled, errors)
        else:
            self._fit_head(labelled, errors, steps=cfg.icnn_steps if first else cfg.icnn_refit_steps)
        self.rounds += 1

    def _regularize(self, labelled: Tensor, errors: Tensor) -> None:
        """Pseudo-label every cell, then the joint VAE + ICNN fit on all of them; codes re-encoded."""
        targets = self._predict()
        targets[labelled] = errors
        self.target_mean, self.target_std = float(targets.mean()), float(targets.std().clamp_min(1e-6))
        scaled = (targets - self.target_mean) / self.target_std
        self.latent.regularize(self.icnn, scaled, labelled, self.config.joint, seed=self.seed * 1009 + self.latent.refits)
        self.regularized_at = len(labelled)

    def _fit_head(self, labelled: Tensor, errors: Tensor, *, steps: int) -> None:
        """The ICNN alone on the current codes: labels (weighted up) + the pseudo-labelled subset."""
        cfg = self.config
        unlabelled = ~torch.isin(self.pseudo_index, labelled)
        pseudo = self._predict(self.pseudo_index[unlabelled])
        index = torch.cat([labelled, self.pseudo_index[unlabelled]])
        targets = torch.cat([errors, pseudo])
        weights = torch.cat([torch.full_like(errors, cfg.label_weight), torch.ones_like(pseudo)])
        self.target_mean, self.target_std = float(targets.mean()), float(targets.std().clamp_min(1e-6))
        fit_icnn(self.icnn, self.latent.mu[index.to(self.device)], ((targets - self.target_mean) / self.target_std).to(self.device),
                 weights.to(self.device), steps=steps, lr=cfg.icnn_lr)

    # -- ask / tell -------------------------------------------------------------------------------
    def tell(self, genotypes, values) -> None:
        before = self.best_value
        super().tell(genotypes, values)
        best = self.best()
        self.best_value = best[1] if best is not None else before
        if self.rounds > 0:
            self.stalled = 0 if self.best_value > before else self.stalled + 1

    def ask(self, n: int) -> list[Genotype]:
        cfg = self.config
        if len(self.observed) < cfg.n_init:
            return self._initial_cells(min(n, cfg.n_init - len(self.observed)), self.seen)
        return self._propose(min(n, cfg.batch_size))

    def _initial_cells(self, count: int, exclude: set[str]) -> list[Genotype]:
        """``count`` initial cells not in ``exclude``: seeded random (``init``), or the proxy ensemble's
        best (``init-zc``; drawn from its top ``init_pool`` when that is > 0)."""
        if count <= 0:
            return []
        if self.config.init == "random":
            return self.mark(sample_unseen_batch(self.space, self.rng, exclude, count), "init")
        order = [g for g in self.init_order if str(g) not in exclude]
        pool = self.config.init_pool
        if pool > count and len(order) > count:
            top = order[:pool]
            picks = sorted(self.rng.choice(len(top), size=count, replace=False).tolist())
            chosen = [top[i] for i in picks]
        else:
            chosen = order[:count]
        pending = set(exclude) | {str(g) for g in chosen}
        return self.mark(chosen, "init-zc") + self.mark(sample_unseen_batch(self.space, self.rng, pending, count - len(chosen)), "init")

    def _add_decoded(self, pool: dict, starts: Tensor, visited: list[Tensor], source: str, anchors=None, keep=None) -> None:
        """Decode every visited code; new cells join ``pool`` with their provenance.

        ``anchors`` (one evaluated (genotype, value) per start row, or None) name where each descent began.
        """
        start_error = self.predicted_error(starts)
        for z in visited:
            end_error = self.predicted_error(z)
            for row, genotype in enumerate(self.latent.decode(z)):
                key = str(genotype)
                if key in self.seen or key in pool or (keep is not None and not keep(key)):
                    continue
                pool[key] = genotype
                info: dict[str, Any] = {"source": source, "icnn_start": float(start_error[row]), "icnn_end": float(end_error[row])}
                if anchors is not None:
                    info["start"], info["start_value"] = str(anchors[row][0]), anchors[row][1]
                self.provenance_of[key] = info

    def _descend_from(self, pool: dict, anchors: list[tuple[Genotype, float]], want: int, keep=None) -> None:
        """Noisy descents from the codes of evaluated ``anchors``, retried with larger steps while the pool is short."""
        cfg = self.config
        codes = self.latent.codes([g for g, _ in anchors])
        rows = [item for item in anchors for _ in range(cfg.starts)]
        step, noise = cfg.step_size, cfg.noise
        for _ in range(cfg.max_retries + 1):
            starts = codes.repeat_interleave(cfg.starts, dim=0)
            eps = torch.randn(starts.shape, generator=self.generator).to(self.device)
            starts = starts + noise * self.latent.scale * eps
            self._add_decoded(pool, starts, self.latent.descend(self.icnn, starts, step=step, steps=cfg.steps), "latent", rows, keep)
            if len(pool) >= cfg.pool_factor * want:
                break
            step, noise = step * cfg.step_growth, noise * cfg.step_growth

    def _descend_random(self, pool: dict, count: int, source: str, keep=None) -> None:
        picks = torch.randint(len(self.latent), (count,), generator=self.generator)
        starts = self.latent.mu[picks.to(self.device)]
        self._add_decoded(pool, starts, self.latent.descend(self.icnn, starts, step=self.config.step_size,
                                                            steps=self.config.global_steps), source, None, keep)

    def _propose(self, want: int) -> list[Genotype]:
        """Refit the models, then ``want`` unseen candidates, best predicted first (one round)."""
        cfg = self.config
        self._refit()
        ranked = sorted(self.observed, key=lambda item: -item[1])
        pool: dict[str, Genotype] = {}
        keep = None
        stalled = cfg.stall_rounds > 0 and self.stalled >= cfg.stall_rounds
        explore = stalled and cfg.stall_action == "explore"
        sweep: list[Genotype] = []
        if stalled and cfg.stall_action == "neighbours":
            # Sweep: until the best value improves, the round takes the incumbent's unseen one-edge
            # neighbours first (predictor-ranked), so a stalled search cannot miss a better neighbour.
            sweep = [g for g in self.space.neighbors(ranked[0][0]) if str(g) not in self.seen]
        if explore:
            # Restart: the incumbent's basin is exhausted. Propose only cells at least
            # ``explore_distance`` edges from the incumbent.
            self.stalled = 0
            far = _tokens(str(ranked[0][0]))
            keep = lambda key: _distance(_tokens(key), far) >= cfg.explore_distance  # noqa: E731
            self._descend_random(pool, cfg.explore_starts, "explore", keep)
            ranked = [item for item in ranked if keep(str(item[0]))]
        ranked = ranked[: cfg.top_k]
        if ranked:
            self._descend_from(pool, ranked, want, keep)
        if cfg.global_starts > 0 and not explore:  # descend from random cells too: reach the ICNN's global basin
            self._descend_random(pool, cfg.global_starts, "global")
        if cfg.neighbour_top > 0 and not explore:  # learned local search: the model also ranks the incumbents' neighbours
            for genotype, _ in ranked[: cfg.neighbour_top]:
                for neighbour in self.space.neighbors(genotype):
                    key = str(neighbour)
                    if key not in self.seen and key not in pool:
                        pool[key] = neighbour
                        self.provenance_of[key] = {"source": "neighbour", "start": str(genotype)}
        for genotype in sweep:
            self.provenance_of[str(genotype)] = {"source": "stall", "start": str(ranked[0][0]) if ranked else ""}
        candidates = list(pool.values())
        if sweep:
            sweep_keys = {str(g) for g in sweep}
            candidates = sweep + [g for g in candidates if str(g) not in sweep_keys]
        if candidates:
            candidates = self._rank(candidates, first=len(sweep))
        chosen = candidates[:want]
        # bounded retries found too little: fill with random cells
        pending = set(self.seen) | {str(g) for g in chosen}
        return chosen + self.mark(sample_unseen_batch(self.space, self.rng, pending, want - len(chosen)), "fill")

    def _rank(self, candidates: list[Genotype], *, first: int = 0) -> list[Genotype]:
        """Candidates by predicted error (``rank_by``), the ``first`` ones kept ahead of the rest."""
        idx = self.latent.positions(candidates)
        if self.config.rank_by == "icnn":
            score = self.predicted_error(self.latent.mu[idx.to(self.device)])
        else:
            score = self._predict(idx)
        if first:
            score = score + torch.cat([torch.zeros(first), torch.full((len(candidates) - first,), 1e6)])
        return [candidates[i] for i in torch.argsort(score, stable=True).tolist()]


_DARTS_PAIR = re.compile(r"\('(\w+)', (\d+)\)")


def _tokens(key: str) -> list[str]:
    """The per-edge parts of a genotype string, in a fixed order (NB201: one op per edge; darts:
    one ``op~input`` per pair slot)."""
    if key.startswith("Genotype("):
        return [f"{op}~{i}" for op, i in _DARTS_PAIR.findall(key)]
    return [part for part in key.split("|") if part and part != "+"]


def _distance(a: list[str], b: list[str]) -> int:
    """Edges on which two genotypes differ (Hamming distance of `_tokens`)."""
    return sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b))


def config_from_dict(data: dict) -> CRLSOConfig:
    """Inverse of ``dataclasses.asdict`` for `CRLSOConfig` (nested configs included)."""
    data = dict(data)
    data["model"] = ModelConfig(**data.get("model", {}))
    data["pretrain"] = PretrainConfig(**data.get("pretrain", {}))
    data["joint"] = JointFitConfig(**data.get("joint", {}))
    return CRLSOConfig(**data)
