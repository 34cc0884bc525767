"""Structural features of NB201 cells, computed from the genotype alone (no label, no benchmark).

A NB201 cell has four input->output paths through its nodes 0..3: ``0-3``, ``0-1-3``, ``0-2-3``
and ``0-1-2-3``. A path is *live* when none of its edges is ``none``; an edge on no live path
is *dead* (it cannot change the output). The features of a cell (``NUM_FEATURES = 140``):

- ``30``: one-hot of the 6 edge ops after pruning (dead edges read as ``none``);
- ``100``: path encoding: for each of the 4 paths, a one-hot of its op sequence over the 4
  non-``none`` ops (``4 + 16 + 16 + 64``), all zero when the path is not live;
- ``10``: summaries: output always zero, live paths, live ``conv3x3`` / ``conv1x1`` / ``pool`` /
  ``skip`` edges, most and fewest convolutions on a live path, most ``conv3x3`` on a live path,
  live paths without any convolution.

`prune_dead_edges` gives the pruned op indices, i.e. the same cell with its dead edges set to
``none`` (functionally identical).
"""

from __future__ import annotations

import numpy as np

from nasspace.nb201 import NB201_EDGES, NB201_OPS
from crlso.errors import ConfigError

__all__ = ["NUM_FEATURES", "PATHS", "live_edge_mask", "prune_dead_edges", "nb201_cell_features"]

PATHS: tuple[tuple[int, ...], ...] = ((3,), (1, 3), (2, 3), (1, 2, 3))
_PATH_EDGES = tuple(
    tuple(NB201_EDGES.index(pair) for pair in zip((0, *path)[:-1], path)) for path in PATHS
)
_NONE, _SKIP, _CONV1, _CONV3, _POOL = (NB201_OPS.index(op) for op in
                                       ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"))
_OPS = len(NB201_OPS)
_NUM_SUMMARIES = 10
NUM_FEATURES = len(NB201_EDGES) * _OPS + sum((_OPS - 1) ** len(p) for p in _PATH_EDGES) + _NUM_SUMMARIES


def _check(op_indices: np.ndarray) -> np.ndarray:
    ops = np.asarray(op_indices)
    if ops.ndim != 2 or ops.shape[1] != len(NB201_EDGES):
        raise ConfigError(f"op_indices must have shape (N, {len(NB201_EDGES)}), got {tuple(ops.shape)}")
    if ops.size and (ops.min() < 0 or ops.max() >= _OPS):
        raise ConfigError(f"op indices must be in 0..{_OPS - 1} ({', '.join(NB201_OPS)})")
    return ops.astype(np.int64)


def _live_paths(ops: np.ndarray) -> np.ndarray:
    """``(N, 4)`` bool: path ``p`` of cell ``i`` has no ``none`` edge."""
    return np.stack([(ops[:, list(edges)] != _NONE).all(axis=1) for edges in _PATH_EDGES], axis=1)


def live_edge_mask(op_indices: np.ndarray) -> np.ndarray:
    """``(N, 6)`` bool: the edge lies on a live input->output path of the cell ``op_indices (N, 6)``."""
    ops = _check(op_indices)
    live = _live_paths(ops)
    mask = np.zeros(ops.shape, dtype=bool)
    for p, edges in enumerate(_PATH_EDGES):
        mask[:, list(edges)] |= live[:, p : p + 1]
    return mask


def prune_dead_edges(op_indices: np.ndarray) -> np.ndarray:
    """``(N, 6)`` op indices with every dead edge set to ``none`` (the same function)."""
    ops = _check(op_indices)
    return np.where(live_edge_mask(ops), ops, _NONE)


def nb201_cell_features(op_indices: np.ndarray) -> np.ndarray:
    """``(N, NUM_FEATURES)`` float32 features of cells ``op_indices (N, 6)`` (see the module doc)."""
    ops = _check(op_indices)
    n = ops.shape[0]
    live = _live_paths(ops)
    pruned = prune_dead_edges(ops)
    parts = [np.eye(_OPS, dtype=np.float32)[pruned].reshape(n, -1)]
    for p, edges in enumerate(_PATH_EDGES):
        code = np.zeros(n, dtype=np.int64)
        for e in edges:
            code = code * (_OPS - 1) + np.clip(ops[:, e] - 1, 0, None)  # ops 1..4 -> 0..3
        onehot = np.zeros((n, (_OPS - 1) ** len(edges)), dtype=np.float32)
        onehot[np.arange(n), code] = live[:, p]
        parts.append(onehot)
    convs = np.stack([np.isin(ops[:, list(edges)], (_CONV1, _CONV3)).sum(axis=1) for edges in _PATH_EDGES], axis=1)
    conv3 = np.stack([(ops[:, list(edges)] == _CONV3).sum(axis=1) for edges in _PATH_EDGES], axis=1)
    big = len(NB201_EDGES) + 1
    summaries = [
        ~live.any(axis=1),
        live.sum(axis=1),
        (pruned == _CONV3).sum(axis=1),
        (pruned == _CONV1).sum(axis=1),
        (pruned == _POOL).sum(axis=1),
        (pruned == _SKIP).sum(axis=1),
        np.where(live, convs, 0).max(axis=1),
        np.where(live, convs, big).min(axis=1) % big,  # 0 when no path is live
        np.where(live, conv3, 0).max(axis=1),
        (live & (convs == 0)).sum(axis=1),
    ]
    parts.append(np.stack(summaries, axis=1).astype(np.float32))
    out = np.concatenate(parts, axis=1)
    assert out.shape == (n, NUM_FEATURES)
    return out
