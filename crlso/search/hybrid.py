"""Hybrid search: a DARTS-family supernet search seeds CR-LSO, and can pre-screen its proposals.

With the training and supernet oracles (`crlso.oracles`), the crlso modules that import `darts_backend`
(lazily, when a run folder is read).

Seeding (``seed_from``: a finished ``darts-backend search`` folder of single-darts, darts or spos, on
NB201 or the DARTS space): the run's derived genotype and the ``alpha_top`` cells its final alpha
distribution ranks highest (an spos run: the best of its final selection)
(`darts_backend.runs.results.SearchOutcome.top_cells`, ``none`` excluded) are the first cells the search
asks for; random cells fill the initial set up to ``n_init``. What the supernet found costs nothing by
itself; each seed the search then queries from the table is charged like any other query.
After the initial set the search is CR-LSO (`crlso.search.crlso`) from those labelled cells.

Pre-screening (``screen``, off by default): every round, CR-LSO's ``screen_factor`` times as many
predictor-ranked candidates as the round queries are scored by a supernet evaluator
(`darts_backend.runs.evaluators.load_screener`, chosen by ``screen_evaluator``: ``mixture``, the path with
every BN normalising by the evaluation batch; or ``single-path``, BN statistics re-estimated for each
path on ``screen_calibration`` other held-out train images, SPOS's reading, meant for ``spos`` runs;
both: inherited weights, accuracy on held-out images), or ``zc:PROXY`` (a zero-cost proxy, or
``zc:A+B`` the rank-average of several, read from the proxy cache like CR-LSO's proxy features:
`crlso.search.proxy_screen`; no supernet needed), and only the best
screened are proposed (ties keep the predictor's order). The seeds and the random initial cells
are screened too, so no query is ever of a cell the evaluator did not see; this includes the
neighbours a stalled round sweeps first, which are re-ranked by the screener like the rest.
`stats()` counts screened and proposed cells; run folders record it in ``summary.json``.

Measured (``/tmp/b5/single-darts-s0``, Single-DARTS C=8 N=1, 10 epochs on 10k CIFAR-10 images): the
screening accuracy of 150 random cells ranks them *against* their NB201 valid accuracy (Kendall
tau -0.24; after 400 steps of single-path fine-tuning -0.06). Such a short CPU supernet favours
shallow cells; screening pays off only with a supernet trained for sub-network ranking.
A CPU-sized SPOS supernet does no better (``darts-backend evaluator-bench``, 100 cells, C=8 N=1 on
10k CIFAR-10 images, ~2 CPU-min of training each): single-path evaluator of SPOS (5 epochs) tau -0.32,
mixture evaluator of Single-DARTS (2 epochs) -0.36, synflow +0.59; both supernets score conv-free
cells highest.

Spaces without a table (DARTS): `crlso.oracles.supernet.supernet_oracle` makes the supernet's held-out accuracy the search
metric (each distinct genotype one query of the budget), and the latent model is the DARTS one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from nasspace import Genotype
from nasspace.options import AT_LEAST_ONE, check_numbers

from crlso.search.base import register_searcher
from crlso.search.crlso import CRLSO_BOUNDS, CRLSOConfig, CRLSOSearch, check_zero_cost_options
from crlso.search.proxy_screen import ProxyScreener, is_proxy_screener
from crlso.errors import ConfigError

__all__ = ["HybridConfig", "HybridSearch", "Screener", "supernet_seeds", "run_supernet_search"]


class Screener(Protocol):
    """What pre-screening needs of an evaluator (`darts_backend.evaluate.SupernetEvaluator`, `SinglePathEvaluator`)."""

    def evaluate(self, genotypes: Sequence[Genotype]) -> Sequence[Any]:
        """One result per genotype, each with a ``key`` (larger is better)."""


@dataclass(frozen=True)
class HybridConfig(CRLSOConfig):
    """CR-LSO's options plus the supernet seeding and pre-screening ones."""

    seed_from: str = ""
    alpha_top: int = 4
    screen: bool = False
    screen_factor: int = 4
    screen_images: int = 512
    screen_split: str = ""
    screen_evaluator: str = "mixture"
    screen_calibration: int = 256

    def __post_init__(self) -> None:
        from darts_backend.runs.evaluators import SCREENERS

        check_numbers(self, {**CRLSO_BOUNDS, "screen_factor": AT_LEAST_ONE, "screen_images": AT_LEAST_ONE,
                             "screen_calibration": AT_LEAST_ONE})
        check_zero_cost_options(self)
        if is_proxy_screener(self.screen_evaluator):
            ProxyScreener.parse(self.screen_evaluator)
        elif self.screen_evaluator not in SCREENERS:
            raise ConfigError(f"unknown screen_evaluator {self.screen_evaluator!r}; valid: {', '.join(SCREENERS)}, "
                              "or zc:PROXY[+PROXY...]")
        if self.screen_evaluator == "single-path" and self.screen_split:
            raise ConfigError("screen_split is for the mixture evaluator: the single-path one reads held-out train images only")


def supernet_seeds(run_dir: str, alpha_top: int) -> list[Genotype]:
    """The derived genotype of a single-darts/darts/spos run (NB201 or DARTS space), then its ``alpha_top``
    most probable cells under the final alphas, or an spos run's best selected cells (deduplicated)."""
    from darts_backend.runs.results import load_outcome

    outcome = load_outcome(run_dir)
    seeds: dict[str, Genotype] = {}
    for genotype in [outcome.genotype, *outcome.top_cells(alpha_top)]:
        seeds.setdefault(str(genotype), genotype)
    return list(seeds.values())


@register_searcher("hybrid")
class HybridSearch(CRLSOSearch):
    """CR-LSO started from a supernet search's cells, optionally pre-screened by that supernet.

    Args:
        screener: the evaluator to screen with (default: built from ``seed_from`` when ``screen``).
    """

    Config = HybridConfig

    def __init__(self, space, *, seed: int, config: HybridConfig | None = None, screener: Screener | None = None):
        super().__init__(space, seed=seed, config=config)
        cfg = self.config
        if cfg.alpha_top < 0 or cfg.screen_factor < 1:
            raise ConfigError(f"alpha_top must be >= 0 and screen_factor >= 1, got {cfg.alpha_top}, {cfg.screen_factor}")
        self.seeds = supernet_seeds(cfg.seed_from, cfg.alpha_top) if cfg.seed_from else []
        if cfg.screen and screener is None and is_proxy_screener(cfg.screen_evaluator):
            screener = ProxyScreener(self._proxy_table(ProxyScreener.parse(cfg.screen_evaluator), "screen_evaluator"))
        if cfg.screen and screener is None:
            if not cfg.seed_from:
                raise ConfigError("screen=True needs seed_from: the supernet run whose weights screen the candidates")
            from darts_backend.runs.evaluators import load_screener

            screener = load_screener(cfg.screen_evaluator, cfg.seed_from, images=cfg.screen_images,
                                     calibration_images=cfg.screen_calibration, split=cfg.screen_split or None)
        self.screener = screener if cfg.screen else None
        self.screened: dict[str, Any] = {}  # genotype string -> its screening key (each cell is scored once)
        self.proposed = 0

    def stats(self) -> dict[str, Any]:
        """CR-LSO's counts, plus seeds, distinct screened candidates and proposed cells so far."""
        return {**super().stats(), "seeds": len(self.seeds), "screened": len(self.screened), "proposed": self.proposed}

    def ask(self, n: int) -> list[Genotype]:
        cfg = self.config
        want = min(n, cfg.batch_size) if len(self.observed) >= cfg.n_init else min(n, cfg.n_init - len(self.observed))
        if self.screener is None:
            chosen = self._initial(want) if len(self.observed) < cfg.n_init else self._propose(want)
        else:
            factor = cfg.screen_factor
            pool = self._initial(want * factor) if len(self.observed) < cfg.n_init else self._propose(want * factor)
            chosen = self._screen(pool, want)
        chosen = chosen[:n]  # the contract: at most n (seeds beyond n come in the next asks)
        self.proposed += len(chosen)
        return chosen

    def _initial(self, count: int) -> list[Genotype]:
        """Unseen seeds first (all of them, even beyond ``count``), then random cells up to ``count``."""
        seeds = [g for g in self.seeds if str(g) not in self.seen]
        pending = self.seen | {str(g) for g in seeds}
        return self.mark(seeds, "seed") + self._initial_cells(max(0, count - len(seeds)), pending)

    def _screen(self, candidates: list[Genotype], want: int) -> list[Genotype]:
        """The ``want`` best candidates by the screener; unseen seeds always pass."""
        assert self.screener is not None
        new = [g for g in candidates if str(g) not in self.screened]
        self.screened.update((str(g), r.key) for g, r in zip(new, self.screener.evaluate(new) if new else []))
        seeds = {str(g) for g in self.seeds}
        keys = [self.screened[str(g)] for g in candidates]
        order = sorted(range(len(candidates)), key=lambda i: (str(candidates[i]) not in seeds, _neg(keys[i])))
        return [candidates[i] for i in order[: max(want, sum(str(g) in seeds for g in candidates))]]


def _neg(key: Any) -> tuple:
    return tuple(-k for k in key) if isinstance(key, tuple) else (-key,)


def run_supernet_search(out_dir: str | Path, *, method: str, data: str, seed: int, channels: int, cells: int,
                        epochs: int, batch_size: int, limit_train: int | None, threads: int | None,
                        space: str = "nb201", progress: bool = True) -> Path:
    """Run (or resume, or reuse when finished) a ``darts-backend`` single-darts/darts/spos search into ``out_dir``.

    Returns:
        The run folder, holding ``genotype.json`` and ``alphas.json``.
    """
    from darts_backend.runs.search import SearchRunConfig, run_search
    from darts_backend.runs.trainer import CHECKPOINT

    out = Path(out_dir)
    config = SearchRunConfig(method=method, space=space, data=data, seed=seed, channels=channels, cells=cells,
                             epochs=epochs, batch_size=batch_size, limit_train=limit_train, threads=threads)
    if (out / "genotype.json").is_file():
        done = json.loads((out / "config.json").read_text())
        differ = sorted(k for k in ("method", "space", "data", "seed", "channels", "cells", "epochs", "batch_size", "limit_train")
                        if done.get(k) != getattr(config, k))
        if differ:
            raise ConfigError(f"{out} holds a finished supernet search with other settings ({', '.join(differ)}); "
                              "choose a new --out or pass it as --supernet")
        return out
    run_search(config, out, resume=(out / CHECKPOINT).is_file(), progress=progress)
    return out
