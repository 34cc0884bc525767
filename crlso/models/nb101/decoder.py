"""The NB101 decoder: latent codes -> op and edge logits -> always a valid NB101 cell.

Layout. A cell of ``n`` vertices sits in 7 *slots*: its input in slot 0, its middle vertices in
slots ``1 .. n-2`` (in the cell's own order), its output in slot 6; slots ``n-1 .. 5`` are empty.
The logits of one code are ``(41,)``: ``5 x 4`` op logits of the middle slots 1..5 over
(``empty``, *NB101_OPS*), then 21 edge logits, one per slot pair ``i < j`` (row-major order of
the strict upper triangle).

Decoding (`NB101Decoder.genotypes`), per code:

1. ops: the argmax of each middle slot; the *active* slots are 0, the non-empty middles and 6;
2. edges: every pair of active slots whose edge probability is above 1/2;
3. connectivity: with no input->output path, the most probable path (largest sum of log edge
   probabilities over active slots) is added;
4. pruning: vertices on no input->output path are dropped (as `NB101Genotype` does);
5. the 9-edge cap: while the pruned cell has more than 9 edges, the least probable edge whose
   removal keeps every live vertex live is removed (when there is none, the least probable one
   whose removal keeps an input->output path). This ends: a pruned cell in which every edge
   lies on every path is one path, of at most 6 edges.

So any logits give a valid cell (pruned, connected, at most 7 vertices and 9 edges).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from crlso.models.decoder import GenotypeDecoder, ResidualBlock
from nasspace import Genotype
from nasspace.nb101 import NB101_MAX_EDGES, NB101_MAX_VERTICES, NB101_OPS, NB101Genotype, nb101_live_vertices
from crlso.errors import ConfigError

__all__ = ["NB101Decoder", "SLOT_PAIRS", "slot_layout", "repair_cell"]

_SLOTS = NB101_MAX_VERTICES
_MIDDLE = _SLOTS - 2
_OP_CLASSES = 1 + len(NB101_OPS)  # empty, then the ops
SLOT_PAIRS: tuple[tuple[int, int], ...] = tuple((i, j) for i in range(_SLOTS) for j in range(i + 1, _SLOTS))
_PAIR_INDEX = {pair: k for k, pair in enumerate(SLOT_PAIRS)}


def slot_layout(genotype: NB101Genotype) -> tuple[list[int], list[int]]:
    """``(ops (5,), edges (21,))`` targets of a cell: op class per middle slot, 0/1 per slot pair."""
    n = genotype.num_vertices
    slot = [v if v < n - 1 else _SLOTS - 1 for v in range(n)]
    ops = [0] * _MIDDLE
    for v in range(1, n - 1):
        ops[slot[v] - 1] = 1 + NB101_OPS.index(genotype.ops[v])
    edges = [0] * len(SLOT_PAIRS)
    for s in range(n):
        for d in range(s + 1, n):
            if genotype.matrix[s][d]:
                edges[_PAIR_INDEX[(slot[s], slot[d])]] = 1
    return ops, edges


def _best_path(log_p: np.ndarray) -> list[tuple[int, int]]:
    """The edges of the most probable 0 -> k-1 path in a ``(k, k)`` upper-triangular log-probability DAG."""
    k = log_p.shape[0]
    best = np.full(k, -math.inf)
    back = np.zeros(k, dtype=np.int64)
    best[0] = 0.0
    for d in range(1, k):
        scores = best[:d] + log_p[:d, d]
        back[d] = int(np.argmax(scores))
        best[d] = scores[back[d]]
    path, v = [], k - 1
    while v != 0:
        path.append((int(back[v]), v))
        v = int(back[v])
    return path[::-1]


def repair_cell(ops: Sequence[str], prob: np.ndarray) -> NB101Genotype:
    """The valid cell of chosen ``ops (k,)`` (input first, output last) and edge probabilities ``prob (k, k)``.

    Steps 2-5 of the module doc: threshold at 1/2, add the most probable path when input and
    output are not joined, prune, then drop the least probable removable edges down to 9.
    """
    k = len(ops)
    upper = np.triu(np.ones((k, k), dtype=bool), 1)
    chosen = (prob > 0.5) & upper
    if not nb101_live_vertices(chosen):
        for s, d in _best_path(np.log(np.clip(prob, 1e-12, 1.0))):
            chosen[s, d] = True
    while True:
        live = nb101_live_vertices(chosen)
        alive = np.zeros(k, dtype=bool)
        alive[live] = True
        live_edges = chosen & alive[:, None] & alive[None, :]
        if live_edges.sum() <= NB101_MAX_EDGES:
            break
        candidates = sorted(zip(*np.nonzero(live_edges)), key=lambda e: prob[e])
        for keep_all in (True, False):  # first edges whose removal keeps every live vertex, then any
            removed = False
            for s, d in candidates:
                chosen[s, d] = False
                remaining = nb101_live_vertices(chosen)
                if remaining and (not keep_all or remaining == live):
                    removed = True
                    break
                chosen[s, d] = True
            if removed:
                break
        else:  # pragma: no cover - unreachable: a pruned cell with no removable edge is one path
            raise AssertionError("no removable edge in a cell with more than 9 edges")
    return NB101Genotype(tuple(tuple(int(x) for x in row) for row in chosen), tuple(ops))


class NB101Decoder(GenotypeDecoder):
    """MLP with residual blocks -> ``(B, 41)`` logits: ``5 x 4`` slot ops, then 21 slot-pair edges.

    Args:
        latent_dim: width of the latent code.
        hidden: width of the MLP.
        num_blocks: residual blocks.
        edge_weight: weight of the edge BCE against the op cross-entropy in `loss`.
    """

    space_name = "nb101"
    num_op_logits = _MIDDLE * _OP_CLASSES
    num_edges = len(SLOT_PAIRS)

    def __init__(self, *, latent_dim: int, hidden: int = 128, num_blocks: int = 2, edge_weight: float = 1.0):
        super().__init__()
        self.edge_weight = edge_weight
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            *(ResidualBlock(hidden) for _ in range(num_blocks)),
            nn.LeakyReLU(0.1),
            nn.Linear(hidden, self.num_op_logits + self.num_edges),
        )

    def forward(self, z: Tensor) -> Tensor:
        """``(B, 41)`` logits: ``[:, :20]`` ops (view ``(B, 5, 4)``), ``[:, 20:]`` edges."""
        return self.net(z)

    def split(self, logits: Tensor) -> tuple[Tensor, Tensor]:
        """``(op logits (B, 5, 4), edge logits (B, 21))`` of ``logits (B, 41)``."""
        return logits[:, : self.num_op_logits].reshape(-1, _MIDDLE, _OP_CLASSES), logits[:, self.num_op_logits :]

    def targets(self, genotypes: Sequence[Genotype]) -> Tensor:
        """``(B, 26)`` long: 5 op classes (0 empty) then 21 edge bits, per `slot_layout`.

        Raises:
            ValueError: a genotype is not an `NB101Genotype`.
        """
        rows = []
        for g in genotypes:
            if not isinstance(g, NB101Genotype):
                raise ConfigError(f"the nb101 decoder takes NB101Genotype targets, got {type(g).__name__}")
            ops, edges = slot_layout(g)
            rows.append(ops + edges)
        return torch.tensor(rows, dtype=torch.long).view(-1, _MIDDLE + self.num_edges)

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Op cross-entropy summed over 5 slots + ``edge_weight`` * edge BCE summed over 21 pairs, per graph."""
        op_logits, edge_logits = self.split(logits)
        ce = nn.functional.cross_entropy(op_logits.reshape(-1, _OP_CLASSES), targets[:, :_MIDDLE].reshape(-1), reduction="sum")
        bce = nn.functional.binary_cross_entropy_with_logits(edge_logits, targets[:, _MIDDLE:].to(edge_logits.dtype), reduction="sum")
        return (ce + self.edge_weight * bce) / logits.shape[0]

    def genotypes(self, logits: Tensor) -> list[Genotype]:
        """The valid cell of each row of ``logits (B, 41)`` (the module doc's steps 1-5)."""
        op_logits, edge_logits = self.split(logits.detach().float().cpu())
        op_choice = op_logits.argmax(dim=-1).numpy()
        edge_prob = torch.sigmoid(edge_logits).numpy()
        out: list[Genotype] = []
        full = np.zeros((_SLOTS, _SLOTS))
        rows, cols = zip(*SLOT_PAIRS)
        for choice, prob in zip(op_choice, edge_prob):
            active = [0, *(s + 1 for s in range(_MIDDLE) if choice[s] > 0), _SLOTS - 1]
            ops = ["input", *(NB101_OPS[choice[s - 1] - 1] for s in active[1:-1]), "output"]
            full[rows, cols] = prob
            out.append(repair_cell(ops, full[np.ix_(active, active)]))
        return out
