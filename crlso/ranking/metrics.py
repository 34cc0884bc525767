"""Rank metrics (higher score = better architecture), scipy-backed:

- `kendall_tau`: Kendall's tau-b (ties corrected), ``scipy.stats.kendalltau`` (O(n log n): 15,625
  cells in milliseconds).
- `spearman_rho`: Spearman's rho with average ranks for ties, ``scipy.stats.spearmanr``.
- `precision_at_k`: the fraction of the ``k`` best-predicted items (ties broken by input order)
  that are in the true top ``k``; the true top ``k`` holds every item whose true value is at
  least the ``k``-th largest true value (so ties at the boundary count as hits).
"""

from __future__ import annotations

import numpy as np
from crlso.errors import ConfigError

__all__ = ["kendall_tau", "spearman_rho", "precision_at_k", "average_ranks"]


def _check_pair(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, true = np.asarray(pred, dtype=np.float64).ravel(), np.asarray(true, dtype=np.float64).ravel()
    if pred.shape != true.shape:
        raise ConfigError(f"predicted and true values differ in length: {pred.size} vs {true.size}")
    if pred.size < 2:
        raise ConfigError("rank metrics need at least 2 items")
    return pred, true


def kendall_tau(pred: np.ndarray, true: np.ndarray) -> float:
    """Kendall's tau-b of ``pred (n,)`` against ``true (n,)`` (nan if either is constant)."""
    from scipy import stats

    pred, true = _check_pair(pred, true)
    return float(stats.kendalltau(pred, true).statistic)


def average_ranks(values: np.ndarray) -> np.ndarray:
    """``(n,)`` 1-based ranks of ``values (n,)`` (smallest first), tied values sharing their mean rank."""
    values = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    last = np.r_[first[1:], values.size] - 1
    ranks = np.empty(values.size)
    ranks[order] = (first[group] + last[group]) / 2 + 1
    return ranks


def spearman_rho(pred: np.ndarray, true: np.ndarray) -> float:
    """Spearman's rho of ``pred (n,)`` against ``true (n,)`` (average ranks for ties; nan if either is constant)."""
    from scipy import stats

    pred, true = _check_pair(pred, true)
    if np.ptp(pred) == 0 or np.ptp(true) == 0:
        return float("nan")
    return float(stats.spearmanr(pred, true).statistic)


def precision_at_k(pred: np.ndarray, true: np.ndarray, k: int = 50) -> float:
    """Fraction of the top-``k`` predicted that are in the true top ``k`` (see the module doc)."""
    pred, true = _check_pair(pred, true)
    if not 1 <= k <= pred.size:
        raise ConfigError(f"k must be in 1..{pred.size}, got {k}")
    top_pred = np.argsort(-pred, kind="stable")[:k]
    threshold = np.sort(true)[::-1][k - 1]
    return float((true[top_pred] >= threshold).sum() / k)
