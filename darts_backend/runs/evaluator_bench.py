"""How well evaluators rank NB201 cells: Kendall tau and Spearman against the table, side by side.

``darts-backend evaluator-bench``: the same cells (``N`` distinct uniform cells from a seed, or a file)
are scored by every evaluator named, each with its wall and CPU seconds per cell, and each score list
is correlated with the NB201 table's metric (default cifar10 ``valid_acc``). Evaluators by name:

- ``mixture:RUN_DIR``: `darts_backend.evaluate.SupernetEvaluator` of a search run folder;
- ``single-path:RUN_DIR``: `darts_backend.evaluate.SinglePathEvaluator` (BN re-estimated per path);
- ``zc:PROXY``: a zero-cost proxy (`darts_backend.evaluate.zero_cost`, through the per-cell cache);
  ``zc:A+B``: the rank-average of several (`rank_average`), as ``crlso hybrid --screen-evaluator zc:A+B`` screens.

Cells an evaluator leaves undefined (NaN) are dropped from its correlations; ``n`` says how many counted.
The table is read only here, to correlate: no evaluator sees it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from nasspace.nb201 import NB201_SIZE
from nasspace.space import Genotype, get_space
from darts_backend.errors import ConfigError

__all__ = ["EVALUATOR_KINDS", "EvaluatorSpec", "parse_evaluator", "sample_cells", "rank_correlations", "rank_average",
           "bench_evaluators", "build_scorer", "format_table"]

EVALUATOR_KINDS = ("mixture", "single-path", "zc")
Scorer = Callable[[Sequence[Genotype]], Sequence[float]]


@dataclass(frozen=True)
class EvaluatorSpec:
    """One evaluator of the bench: its kind and what it reads (a run folder, or a proxy name)."""

    kind: str
    target: str

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.target}"

    @property
    def proxies(self) -> list[str]:
        """The proxy names of a ``zc`` evaluator (``zc:A+B`` -> ``["A", "B"]``)."""
        return self.target.split("+")


def parse_evaluator(text: str) -> EvaluatorSpec:
    """``KIND:TARGET`` with KIND in `EVALUATOR_KINDS` (ValueError naming the allowed forms otherwise)."""
    kind, sep, target = text.partition(":")
    if not sep or kind not in EVALUATOR_KINDS or not target:
        raise ConfigError(f"evaluator {text!r} is not KIND:TARGET with KIND in {', '.join(EVALUATOR_KINDS)} "
                          "(mixture:RUN_DIR, single-path:RUN_DIR, zc:PROXY or zc:PROXY+PROXY)")
    spec = EvaluatorSpec(kind, target)
    if kind == "zc":
        from darts_backend.evaluate import get_proxy

        if len(set(spec.proxies)) != len(spec.proxies):
            raise ConfigError(f"evaluator {text!r} names a proxy twice")
        for name in spec.proxies:
            get_proxy(name)  # ValueError listing the proxies
    return spec


def sample_cells(n: int, seed: int, space: str = "nb201") -> list[Genotype]:
    """``n`` distinct uniform cells of `space`, drawn from `seed` (ValueError if n < 2, or more than the
    space holds)."""
    if n < 2:
        raise ConfigError(f"a rank correlation needs at least 2 cells, got {n}")
    if space == "nb201" and n > NB201_SIZE:
        raise ConfigError(f"--cells {n} asks for more distinct cells than NB201 holds ({NB201_SIZE})")
    rng = np.random.default_rng(seed)
    search_space = get_space(space)
    cells: dict[str, Genotype] = {}
    while len(cells) < n:
        cell = search_space.sample(rng)
        cells.setdefault(str(cell), cell)
    return list(cells.values())


def rank_correlations(scores: Sequence[float], truth: Sequence[float]) -> dict[str, float]:
    """Kendall tau-b and Spearman rho of `scores` against `truth` over the cells where both are finite.

    Returns:
        ``{"kendall_tau", "spearman", "n"}``; the correlations are NaN when fewer than 2 cells count.
    """
    s, t = np.asarray(scores, dtype=float), np.asarray(truth, dtype=float)
    if s.shape != t.shape:
        raise ConfigError(f"scores and truth differ in length: {len(s)} vs {len(t)}")
    keep = np.isfinite(s) & np.isfinite(t)
    n = int(keep.sum())
    if n < 2:
        return {"kendall_tau": math.nan, "spearman": math.nan, "n": n}
    tau = float(stats.kendalltau(s[keep], t[keep]).statistic)
    rho = float(stats.spearmanr(s[keep], t[keep]).statistic)
    return {"kendall_tau": tau, "spearman": rho, "n": n}


def rank_average(columns: Sequence[Sequence[float]]) -> list[float]:
    """The rank-average of ``k`` score lists over the same ``M`` cells (larger is better).

    Each list's finite scores get mid-ranks among themselves, scaled to ``rank / m - (m + 1) / (2m)``
    (centred on 0; ``m`` finite scores); a NaN score counts as 0, the middle. Returns the ``(M,)`` mean
    over the lists.
    """
    total = np.zeros(len(columns[0]))
    for column in columns:
        values = np.asarray(column, dtype=float)
        finite = np.isfinite(values)
        m = int(finite.sum())
        if m:
            total[finite] += stats.rankdata(values[finite]) / m - (m + 1) / (2 * m)
    return (total / len(columns)).tolist()


def bench_evaluators(cells: Sequence[Genotype], truth: Sequence[float], scorers: Mapping[str, Scorer]) -> dict[str, dict[str, Any]]:
    """Score `cells` with every scorer and correlate with `truth`.

    Returns:
        ``{name: {"kendall_tau", "spearman", "n", "seconds_per_cell", "cpu_seconds_per_cell", "scores"}}``, in
        the order of `scorers`.
    """
    if len(cells) != len(truth):
        raise ConfigError(f"{len(cells)} cells but {len(truth)} true values")
    results: dict[str, dict[str, Any]] = {}
    for name, scorer in scorers.items():
        start, cpu = time.perf_counter(), time.process_time()
        scores = [float(v) for v in scorer(list(cells))]
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        if len(scores) != len(cells):
            raise ConfigError(f"evaluator {name} returned {len(scores)} scores for {len(cells)} cells")
        results[name] = {**rank_correlations(scores, truth), "seconds_per_cell": wall / len(cells),
                         "cpu_seconds_per_cell": cpu / len(cells), "scores": scores}
    return results


def build_scorer(spec: EvaluatorSpec, *, images: int = 512, calibration_images: int = 256, zc_data: str = "synthetic",
                 zc_batch_size: int = 64, zc_seed: int = 0, cache_dir: str | None = None, device: str = "auto") -> Scorer:
    """The scoring function of `spec` (loads the run folder or checks the proxy's images now)."""
    if spec.kind in ("mixture", "single-path"):
        from darts_backend.runs.evaluators import load_screener

        evaluator = load_screener(spec.kind, spec.target, images=images, calibration_images=calibration_images, device=device)
        return evaluator.score
    from darts_backend.evaluate import ZeroCostConfig
    from darts_backend.runs.zero_cost import run_zero_cost

    config = ZeroCostConfig(space="nb201", data=zc_data, batch_size=zc_batch_size, seed=zc_seed)
    names = spec.proxies

    def score(cells: Sequence[Genotype]) -> list[float]:
        scores = run_zero_cost(config, cells, names, cache_dir=cache_dir, progress=False).scores
        return scores[names[0]] if len(names) == 1 else rank_average([scores[name] for name in names])

    return score


def format_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    """A Markdown table: evaluator, Kendall tau, Spearman, cells counted, CPU seconds per cell."""
    lines = ["| evaluator | Kendall tau | Spearman | n | CPU s/cell |", "|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['kendall_tau']:.3f} | {r['spearman']:.3f} | {r['n']} | {r['cpu_seconds_per_cell']:.3f} |")
    return "\n".join(lines)
