"""One DARTS-space search cell: k nodes, each mixing (input, op) pairs along a host-side plan.

The plan (per node, its `NodePair` list) is built by `darts_backend.supernets.darts.DartsSearchNetwork`
from its alive mask; the cell only follows it, so deleted pairs are never computed. Edge ``offset(i) + j``
(`edge_offsets`) connects input ``j`` (0, 1: the preprocessed cell inputs; ``j >= 2``: node ``j - 2``)
to node ``i``. With PC-DARTS's options (`darts_backend.supernets.partial`) the cell runs edge by edge:
ops on the first ``C/K`` channels, the rest bypassed and shuffled back, each edge scaled by its weight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from darts_backend.ops import create_op
from darts_backend.supernets.partial import check_partial_channels, merge_channels, split_channels
from darts_backend.supernets.precision import fp32_region, mixing_in_fp32

__all__ = ["NodePair", "DartsSearchCell", "edge_offsets"]


def edge_offsets(k: int) -> list[int]:
    """``(k + 1,)`` index of the first edge of each node (last entry: the edge count ``E``)."""
    offsets = [0]
    for i in range(k):
        offsets.append(offsets[-1] + i + 2)
    return offsets


@dataclass(frozen=True)
class NodePair:
    """One alive (input, op) pair of a node in the forward plan."""

    edge: int
    source: int  # 0, 1: cell inputs; j >= 2: intermediate node j - 2
    op_index: int
    op: str
    flat: int  # index into the flattened (E * O) weights of the cell's group


class _Preprocess(nn.Module):
    """ReLU -> 1x1 conv (or factorized stride-2 reduce) -> affine-free BN over a subset of input channels.

    ``keep`` (set by the network) lists the input channels that still exist; the conv weights are
    sliced to them, which equals feeding zeros for the dropped channels.
    """

    def __init__(self, C_in: int, C_out: int, reduce: bool):
        super().__init__()
        self.reduce = reduce
        if reduce:
            self.conv_a = nn.Conv2d(C_in, C_out // 2, 1, stride=2, bias=False)
            self.conv_b = nn.Conv2d(C_in, C_out - C_out // 2, 1, stride=2, bias=False)
        else:
            self.conv = nn.Conv2d(C_in, C_out, 1, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=False)
        self.register_buffer("keep", torch.arange(C_in), persistent=False)
        self.full = True

    def set_keep(self, channels: Sequence[int]) -> None:
        """Use only input channels `channels` (ascending)."""
        channels = list(channels)
        self.full = channels == list(range(self._c_in()))
        self.keep = torch.tensor(channels, dtype=torch.long, device=self.bn.running_mean.device)

    def _c_in(self) -> int:
        return (self.conv_a if self.reduce else self.conv).in_channels

    def _w(self, conv: nn.Conv2d) -> torch.Tensor:
        return conv.weight if self.full else conv.weight.index_select(1, self.keep)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, len(keep), H, W) -> (B, C_out, H', W')``."""
        x = F.relu(x)
        if self.reduce:
            out = torch.cat([F.conv2d(x, self._w(self.conv_a), stride=2),
                             F.conv2d(x[:, :, 1:, 1:], self._w(self.conv_b), stride=2)], dim=1)
        else:
            out = F.conv2d(x, self._w(self.conv))
        return self.bn(out)


class DartsSearchCell(nn.Module):
    """One search cell: `k` nodes, every (input, op) pair with its own weights.

    Args:
        C_pp, C_p: channels of the outputs of cells ``c-2`` and ``c-1``.
        C: channels of each node.
        reduction: stride 2 on the edges reading the cell inputs.
        reduction_prev: cell ``c-1`` halved the resolution (input 0 needs a stride-2 preprocess).
        k: intermediate nodes.
        ops: candidate op names (the alpha column order).
        partial_channels: PC-DARTS's K: the ops of an edge see only the first ``C/K`` channels (1: all).
    """

    def __init__(self, C_pp: int, C_p: int, C: int, *, reduction: bool, reduction_prev: bool, k: int,
                 ops: Sequence[str], partial_channels: int = 1):
        super().__init__()
        check_partial_channels(partial_channels, [C])
        self.C, self.k, self.reduction, self.ops = C, k, reduction, tuple(ops)
        self.partial_channels = partial_channels
        c_op = C // partial_channels
        self.pre0 = _Preprocess(C_pp, C, reduction_prev)
        self.pre1 = _Preprocess(C_p, C, False)
        self.edge_ops = nn.ModuleDict()
        offsets = edge_offsets(k)
        for i in range(k):
            for j in range(i + 2):
                stride = 2 if reduction and j < 2 else 1
                for op in self.ops:
                    if self._has_module(op, stride):
                        self.edge_ops[f"{offsets[i] + j}_{op}"] = create_op(op, c_op, c_op, stride, False)
        self.plan: list[list[NodePair]] = []

    @staticmethod
    def _has_module(op: str, stride: int) -> bool:
        return op not in ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect") or (op == "skip_connect" and stride == 2)

    def _free_op(self, op: str, x: torch.Tensor, stride: int) -> torch.Tensor:
        if op == "skip_connect":
            return x
        if op == "max_pool_3x3":
            y = F.max_pool2d(x, 3, stride, 1)
        else:
            y = F.avg_pool2d(x, 3, stride, 1, count_include_pad=False)
        return F.batch_norm(y, None, None, training=True)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor,
                plan: list[list[NodePair]] | None = None, edge_weights: torch.Tensor | None = None) -> torch.Tensor:
        """Run the cell along its plan.

        Args:
            s0, s1: ``(B, C_pp', H0, W0)``, ``(B, C_p', H, W)`` outputs of the two previous cells
                (only their surviving channels).
            weights: ``(E * O,)`` flattened normalised pair weights of this cell's group.
            plan: the pairs to run per node (default: the cell's own plan of alive pairs).
            edge_weights: optional ``(E,)`` weight of each edge's output (edge normalization).

        Returns:
            ``(B, n_alive * C, H', W')``: the surviving nodes, concatenated.
        """
        if self.partial_channels > 1 or edge_weights is not None:
            return self._edge_forward(s0, s1, weights, self.plan if plan is None else plan, edge_weights)
        states: list[torch.Tensor | None] = [self.pre0(s0), self.pre1(s1)]
        shared: dict[tuple[int, str], torch.Tensor] = {}
        outputs = []
        fp32 = mixing_in_fp32(s1)  # under autocast the ops run in bf16, the weighting and the sums in fp32
        for pairs in self.plan if plan is None else plan:
            acc: torch.Tensor | None = None
            for pair in pairs:
                x = states[pair.source]
                assert x is not None  # the plan never reads a dropped node
                stride = 2 if self.reduction and pair.source < 2 else 1
                key = f"{pair.edge}_{pair.op}"
                if key in self.edge_ops:
                    y = self.edge_ops[key](x)
                else:
                    cached = shared.get((pair.source, pair.op))
                    if cached is None:
                        cached = shared[(pair.source, pair.op)] = self._free_op(pair.op, x, stride)
                    y = cached
                with fp32_region(y, fp32):
                    term = (y.float() if fp32 else y) * weights[pair.flat]
                    acc = term if acc is None else acc + term
            states.append(acc)
            if acc is not None:
                outputs.append(acc)
        return torch.cat(outputs, dim=1)

    def _edge_forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor, plan: list[list[NodePair]],
                      edge_weights: torch.Tensor | None) -> torch.Tensor:
        """`forward` edge by edge: each edge mixes its ops on the op channels, merges the bypassed
        channels back (partial channels) and is weighted by its edge weight (edge normalization)."""
        k = self.partial_channels
        fp32 = mixing_in_fp32(s1)
        states: list[torch.Tensor | None] = [self.pre0(s0), self.pre1(s1)]
        shared: dict[tuple[int, str], torch.Tensor] = {}
        outputs = []
        for pairs in plan:
            by_edge: dict[int, list[NodePair]] = {}
            for pair in pairs:
                by_edge.setdefault(pair.edge, []).append(pair)
            acc: torch.Tensor | None = None
            for edge, edge_pairs in by_edge.items():
                source = edge_pairs[0].source
                x = states[source]
                assert x is not None  # the plan never reads a dropped node
                head, bypass = split_channels(x, k) if k > 1 else (x, None)
                stride = 2 if self.reduction and source < 2 else 1
                mixed: torch.Tensor | None = None
                for pair in edge_pairs:
                    key = f"{pair.edge}_{pair.op}"
                    if key in self.edge_ops:
                        y = self.edge_ops[key](head)
                    else:
                        cached = shared.get((source, pair.op))
                        if cached is None:
                            cached = shared[(source, pair.op)] = self._free_op(pair.op, head, stride)
                        y = cached
                    with fp32_region(y, fp32):
                        term = (y.float() if fp32 else y) * weights[pair.flat]
                        mixed = term if mixed is None else mixed + term
                assert mixed is not None
                if bypass is not None:
                    mixed = merge_channels(mixed, bypass, k)
                with fp32_region(mixed, fp32):
                    if edge_weights is not None:
                        mixed = mixed * edge_weights[edge]
                    acc = mixed if acc is None else acc + mixed
            states.append(acc)
            if acc is not None:
                outputs.append(acc)
        return torch.cat(outputs, dim=1)
