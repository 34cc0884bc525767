"""Fixed-length features of NB101 cells, from the genotype alone (no label, no benchmark).

- `one_hot_encoding` ``(N, 41)``: the cell in the decoder's 7-slot layout (`crlso.models.nb101.decoder`):
  the op class of middle slots 1..5 one-hot over (empty, *NB101_OPS*), then the 21 slot-pair edge
  bits. The random-forest baseline of the ranking benchmark reads it.
- `cell_features` ``(N, NUM_FEATURES)``: the path encoding (for every op sequence of length 0..5
  over the 3 ops, the number of input->output paths whose middle vertices carry it: 364 counts),
  then summaries: vertices, edges, vertices of each op, input->output paths, longest and shortest
  path (in edges), the edge input->output, ops of the vertices feeding the output (3 counts), ops
  of the vertices fed by the input (3 counts), most 3x3 convolutions on a path, most and fewest
  convolutions on a path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crlso.models.nb101.decoder import SLOT_PAIRS, slot_layout
from nasspace.nb101 import NB101_MAX_VERTICES, NB101_OPS, NB101Genotype
from crlso.errors import ConfigError

__all__ = ["ONE_HOT_DIM", "NUM_FEATURES", "one_hot_encoding", "cell_features", "input_output_paths"]

_MIDDLE = NB101_MAX_VERTICES - 2
_OPS = len(NB101_OPS)
ONE_HOT_DIM = _MIDDLE * (1 + _OPS) + len(SLOT_PAIRS)
_PATH_DIM = sum(_OPS**length for length in range(_MIDDLE + 1))  # 1 + 3 + 9 + 27 + 81 + 243 = 364
_OFFSETS = [sum(_OPS**length for length in range(k)) for k in range(_MIDDLE + 1)]
_NUM_SUMMARIES = 3 + _OPS + 1 + 2 + 1 + 2 * _OPS + 3
NUM_FEATURES = _PATH_DIM + _NUM_SUMMARIES
_CONV3, _CONV1 = NB101_OPS.index("conv3x3-bn-relu"), NB101_OPS.index("conv1x1-bn-relu")


def _check(genotypes: Sequence[NB101Genotype]) -> None:
    for g in genotypes:
        if not isinstance(g, NB101Genotype):
            raise ConfigError(f"nb101 features take NB101Genotype cells, got {type(g).__name__}")


def one_hot_encoding(genotypes: Sequence[NB101Genotype]) -> np.ndarray:
    """``(N, 41)`` float32: slot op one-hots (5 x 4) then slot-pair edge bits (21)."""
    _check(genotypes)
    out = np.zeros((len(genotypes), ONE_HOT_DIM), dtype=np.float32)
    for i, g in enumerate(genotypes):
        ops, edges = slot_layout(g)
        out[i, [s * (1 + _OPS) + c for s, c in enumerate(ops)]] = 1.0
        out[i, _MIDDLE * (1 + _OPS) :] = edges
    return out


def input_output_paths(genotype: NB101Genotype) -> list[tuple[int, ...]]:
    """Every input->output path of a cell as its vertex sequence (input and output included)."""
    n, matrix = genotype.num_vertices, genotype.matrix
    paths: list[tuple[int, ...]] = []

    def walk(path: tuple[int, ...]) -> None:
        v = path[-1]
        if v == n - 1:
            paths.append(path)
            return
        for w in range(v + 1, n):
            if matrix[v][w]:
                walk((*path, w))

    walk((0,))
    return paths


def cell_features(genotypes: Sequence[NB101Genotype]) -> np.ndarray:
    """``(N, NUM_FEATURES)`` float32 path encoding and summaries (see the module doc)."""
    _check(genotypes)
    out = np.zeros((len(genotypes), NUM_FEATURES), dtype=np.float32)
    for i, g in enumerate(genotypes):
        n = g.num_vertices
        op = [NB101_OPS.index(o) if o in NB101_OPS else -1 for o in g.ops]
        paths = input_output_paths(g)
        for path in paths:
            code = 0
            for v in path[1:-1]:
                code = code * _OPS + op[v]
            out[i, _OFFSETS[len(path) - 2] + code] += 1.0
        middle = op[1:-1]
        lengths = [len(p) - 1 for p in paths]
        conv3 = [sum(op[v] == _CONV3 for v in p[1:-1]) for p in paths]
        convs = [sum(op[v] in (_CONV3, _CONV1) for v in p[1:-1]) for p in paths]
        feeds_output = [op[v] for v in range(1, n - 1) if g.matrix[v][n - 1]]
        fed_by_input = [op[v] for v in range(1, n - 1) if g.matrix[0][v]]
        summaries = [
            n,
            g.num_edges,
            len(paths),
            *(middle.count(k) for k in range(_OPS)),
            g.matrix[0][n - 1],
            max(lengths),
            min(lengths),
            max(conv3),
            *(feeds_output.count(k) for k in range(_OPS)),
            *(fed_by_input.count(k) for k in range(_OPS)),
            max(convs),
            min(convs),
            sum(lengths) / len(lengths),
        ]
        out[i, _PATH_DIM:] = summaries
    return out
