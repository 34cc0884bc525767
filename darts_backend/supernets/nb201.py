"""The NB201 search network: one shared alpha matrix over 6 mixed edges, C and N configurable.

Efficiency without changing the math: the mixed edges leaving one node share their input, so per
source node the ReLU is applied once, the 3x3 and 1x1 convolutions of all its outgoing edges run as
one convolution each (output channels concatenated, ``m*C`` for ``m`` outgoing edges), the 3x3 average
pool is computed once, and the softmax weight of each conv op is folded into the (affine-free,
batch-statistics) BatchNorm as its scale. `none` is never computed: its output is zero, so it only
enters through the softmax normalisation. This is exactly the sum over edges of
``sum_o softmax(alpha_e)_o * o(x)`` with one ReLU-Conv-BN per (edge, conv op).

PC-DARTS options (`darts_backend.supernets.partial`), both off by default: ``partial_channels=K`` runs
the ops of every edge on the first ``C/K`` channels of its source (the convolutions are ``C/K -> C/K``),
concatenates the other channels unchanged and shuffles the channels in ``K`` groups;
``edge_normalization=True`` adds one beta per edge and makes each node the ``softmax(beta)``-weighted
combination of its incoming edges. The genotype is still the argmax op per edge: a per-edge weight
scales all ops of the edge alike, so the betas steer the search but never change the derivation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from darts_backend.ops import ResNetBasicBlock, reset_weights_
from darts_backend.supernets.partial import check_partial_channels, merge_channels, segment_softmax, split_channels
from darts_backend.supernets.precision import fp32_region, mixing_in_fp32
from nasspace.nb201 import NB201_EDGES, NB201_OPS, NB201Genotype
from darts_backend.errors import ConfigError

__all__ = ["NB201SearchCell", "NB201SearchNetwork", "NB201_NODE_EDGES"]

NB201_NODE_EDGES: tuple[tuple[int, int], ...] = tuple(
    (min(k for k, (_, d) in enumerate(NB201_EDGES) if d == dst), 1 + max(k for k, (_, d) in enumerate(NB201_EDGES) if d == dst))
    for dst in (1, 2, 3))
"""Per node 1..3, the ``[lo, hi)`` rows of its incoming edges in `NB201_EDGES` order (they are contiguous)."""


class NB201SearchCell(nn.Module):
    """A 4-node NB201 cell whose 6 edges are mixtures of `ops`.

    Args:
        C: channels (input = output).
        ops: candidate op names, a subset of `NB201_OPS` in any order (the alpha column order).
        partial_channels: K; the ops of an edge see only the first ``C/K`` channels (1: all of them).
    """

    def __init__(self, C: int, ops: Sequence[str] = NB201_OPS, partial_channels: int = 1):
        super().__init__()
        check_partial_channels(partial_channels, [C])
        self.C = C
        self.k = partial_channels
        self.C_op = C // partial_channels  # channels the ops see
        self.ops = tuple(ops)
        self.out_edges: list[list[int]] = [[k for k, (s, _) in enumerate(NB201_EDGES) if s == src] for src in range(3)]
        for src, edges in enumerate(self.out_edges):  # device-side row indices: no host-to-device copy per step
            self.register_buffer(f"out_edge_index_{src}", torch.tensor(edges, dtype=torch.long), persistent=False)
        col = {name: i for i, name in enumerate(self.ops)}
        self.col_skip = col.get("skip_connect")
        self.col_pool = col.get("avg_pool_3x3")
        self.col_c1 = col.get("nor_conv_1x1")
        self.col_c3 = col.get("nor_conv_3x3")
        self.conv1 = nn.ModuleList()
        self.conv3 = nn.ModuleList()
        for edges in self.out_edges:
            m = len(edges)
            c = self.C_op
            if self.col_c1 is not None:
                self.conv1.append(nn.Conv2d(c, m * c, 1, bias=False))
            if self.col_c3 is not None:
                self.conv3.append(nn.Conv2d(c, m * c, 3, padding=1, bias=False))

    def forward(self, x: torch.Tensor, weights: torch.Tensor, active: torch.Tensor | None = None,
                edge_weights: torch.Tensor | None = None) -> torch.Tensor:
        """Run the cell.

        Args:
            x: ``(B, C, H, W)`` cell input (node 0).
            weights: ``(6, len(ops))`` mixing weight of each op on each edge (rows in `NB201_EDGES` order).
            active: optional ``(6, len(ops))`` bool (on CPU); ops marked False are not computed. Use it with
                one-hot `weights` to run a fixed genotype (an edge with no active op then adds nothing, not
                even its bypassed channels).
            edge_weights: optional ``(6,)`` weight of each edge's output (edge normalization).

        Returns:
            ``(B, C, H, W)`` node 3.
        """
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        fp32 = mixing_in_fp32(x)  # under autocast the ops run in bf16, the weighting and the sums in fp32
        for src, edges in enumerate(self.out_edges):
            full = nodes[src]
            if full is None:
                full = torch.zeros_like(x)
            inp, bypass = split_channels(full, self.k) if self.k > 1 else (full, None)
            w = weights.index_select(0, self.out_edge_index(src))  # (m, n_ops)
            mask = None if active is None else active[edges]
            convs: list[torch.Tensor | None] = [None, None]  # weighted BN(conv) parts, (B, m, C, H, W)
            relu = None
            for slot, (col, layers) in enumerate(((self.col_c3, self.conv3), (self.col_c1, self.conv1))):
                if col is None or (mask is not None and not bool(mask[:, col].any())):
                    continue
                relu = F.relu(inp) if relu is None else relu
                convs[slot] = self._conv_part(relu, layers[src], w[:, col], None if mask is None else mask[:, col], fp32)
            skip = w_skip = pooled = w_pool = None
            if self.col_skip is not None and (mask is None or bool(mask[:, self.col_skip].any())):
                skip, w_skip = inp, w[:, self.col_skip]
            if self.col_pool is not None and (mask is None or bool(mask[:, self.col_pool].any())):
                # count_include_pad=False mean = (3x3 sum as a depthwise conv) / (valid count): far faster on CPU
                summed = F.conv2d(inp, inp.new_ones(inp.shape[1], 1, 3, 3), padding=1, groups=inp.shape[1])
                pooled, w_pool = summed * _inverse_counts(inp), w[:, self.col_pool]
            if convs[0] is None and convs[1] is None and skip is None and pooled is None:
                continue
            with fp32_region(x, fp32):
                parts = (convs[0], convs[1], skip, w_skip, pooled, w_pool)
                mixed = _Mix.apply(*(t.float() if t is not None and fp32 else t for t in parts))
            for i, (k, out) in enumerate(zip(edges, mixed.unbind(1))):  # unbind: one backward op, not one zero-fill per slice
                if mask is not None and not bool(mask[i].any()):
                    continue
                if bypass is not None:
                    out = merge_channels(out, bypass, self.k)
                if edge_weights is not None:
                    out = out * edge_weights[k]
                dst = NB201_EDGES[k][1]
                nodes[dst] = out if nodes[dst] is None else nodes[dst] + out
        result = nodes[3]
        return torch.zeros_like(x) if result is None else result

    def out_edge_index(self, src: int) -> torch.Tensor:
        """``(m,)`` int64 rows (in `NB201_EDGES` order) of the edges leaving node `src`, on the cell's device."""
        return getattr(self, f"out_edge_index_{src}")

    def _conv_part(self, relu: torch.Tensor, conv: nn.Conv2d, w: torch.Tensor,
                   mask: torch.Tensor | None, fp32: bool = False) -> torch.Tensor | None:
        """Weighted BN(conv(relu)) for the outgoing edges: ``(B, m, C, H, W)``, None if all inactive.

        ``fp32``: the BN that applies the op weights runs in float32 with autocast off (the conv does not)."""
        m, C = w.shape[0], self.C_op
        scale = w.float().repeat_interleave(C) if fp32 else w.repeat_interleave(C)  # (m*C,)
        if mask is None or bool(mask.all()):
            y = conv(relu)
            with fp32_region(y, fp32):
                y = F.batch_norm(y.float() if fp32 else y, None, None, weight=scale, training=True)
            return y.view(y.shape[0], m, C, y.shape[2], y.shape[3])
        if not bool(mask.any()):
            return None
        keep = mask.repeat_interleave(C).nonzero().flatten().to(conv.weight.device)
        y = F.conv2d(relu, conv.weight.index_select(0, keep), padding=conv.padding)
        with fp32_region(y, fp32):
            y = F.batch_norm(y.float() if fp32 else y, None, None, weight=scale.index_select(0, keep), training=True)
        full = y.new_zeros(y.shape[0], m * C, y.shape[2], y.shape[3])
        full = full.index_copy(1, keep, y)
        return full.view(y.shape[0], m, C, y.shape[2], y.shape[3])


class _Mix(torch.autograd.Function):
    """``a + b + x[:, None] * w_x + p[:, None] * w_p`` for the m edges leaving one node, fused.

    Shapes: a, b ``(B, m, C, H, W)``; x, p ``(B, C, H, W)``; w_x, w_p ``(m,)``; any argument may be None
    (with its weight). The backward computes the input and weight gradients as small matrix products
    instead of broadcast multiplies followed by reductions.
    """

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor | None, b: torch.Tensor | None, x: torch.Tensor | None,
                w_x: torch.Tensor | None, p: torch.Tensor | None, w_p: torch.Tensor | None) -> torch.Tensor:
        if a is not None and b is not None:
            out = a + b
        elif a is not None or b is not None:
            out = (a if a is not None else b).clone()  # type: ignore[union-attr]
        else:
            out = None
        for t, w in ((x, w_x), (p, w_p)):
            if t is None or w is None:
                continue
            w = w.view(1, -1, 1, 1, 1)
            out = t.unsqueeze(1) * w if out is None else out.addcmul_(t.unsqueeze(1), w)
        ctx.save_for_backward(x, w_x, p, w_p)
        assert out is not None  # callers pass at least one part
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, w_x, p, w_p = ctx.saved_tensors
        need = ctx.needs_input_grad
        batch, m = grad.shape[:2]
        flat = grad.reshape(batch, m, -1)  # (B, m, K)
        grads: list[torch.Tensor | None] = [grad if need[0] else None, grad if need[1] else None]
        for t, w, need_t, need_w in ((x, w_x, need[2], need[3]), (p, w_p, need[4], need[5])):
            g_t = g_w = None
            if t is not None and w is not None:
                if need_t:  # sum_m w[m] * grad[:, m]
                    g_t = torch.matmul(w.to(flat.dtype).view(1, 1, m), flat).view(t.shape).to(t.dtype)
                if need_w:  # <grad[:, m], t> over batch, channels, pixels
                    g_w = torch.matmul(flat, t.to(flat.dtype).reshape(batch, -1, 1)).sum(dim=(0, 2)).to(w.dtype)
            grads += [g_t, g_w]
        return tuple(grads)


def _inverse_counts(x: torch.Tensor) -> torch.Tensor:
    """``(H, W)`` 1 / (number of in-image cells of the 3x3 window at each position) for x ``(B, C, H, W)``."""
    h, w = x.shape[-2:]
    rows = torch.full((h,), 3.0, device=x.device, dtype=x.dtype)
    cols = torch.full((w,), 3.0, device=x.device, dtype=x.dtype)
    rows[0] = rows[-1] = 2.0 if h > 1 else 1.0
    cols[0] = cols[-1] = 2.0 if w > 1 else 1.0
    return 1.0 / torch.outer(rows, cols)


class NB201SearchNetwork(nn.Module):
    """NB201 supernet: stem, 3 stages of `N` search cells (C, 2C, 4C) with ResNet reduction blocks.

    One alpha matrix ``(6, len(ops))`` is shared by all cells.

    Args:
        C: channels of the first stage.
        N: cells per stage.
        num_classes: classifier outputs.
        ops: candidate ops (subset of `NB201_OPS`).
        partial_channels: PC-DARTS's K (1: off); must divide C.
        edge_normalization: PC-DARTS's per-edge betas (a ``(6,)`` parameter ``betas``).
        generator: seeds the initial weights, alphas and betas (the global RNG is not touched).
    """

    def __init__(self, *, C: int = 16, N: int = 5, num_classes: int = 10, ops: Sequence[str] = NB201_OPS,
                 partial_channels: int = 1, edge_normalization: bool = False,
                 generator: torch.Generator | None = None):
        super().__init__()
        if C < 1 or N < 1 or num_classes < 1:
            raise ConfigError(f"C, N and num_classes must be positive, got C={C}, N={N}, num_classes={num_classes}")
        unknown = [o for o in ops if o not in NB201_OPS]
        if unknown or not ops or len(set(ops)) != len(ops):
            raise ConfigError(f"ops must be distinct names from {', '.join(NB201_OPS)}; got {list(ops)}")
        check_partial_channels(partial_channels, [C, 2 * C, 4 * C])
        self.C, self.N, self.num_classes, self.ops = C, N, num_classes, tuple(ops)
        self.partial_channels, self.edge_normalization = partial_channels, bool(edge_normalization)
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers: list[nn.Module] = []
        c = C
        for stage in range(3):
            if stage > 0:
                layers.append(ResNetBasicBlock(c, 2 * c, stride=2))
                c *= 2
            layers.extend(NB201SearchCell(c, self.ops, partial_channels) for _ in range(N))
        self.layers = nn.ModuleList(layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(c, num_classes)
        self.alphas = nn.Parameter(torch.zeros(len(NB201_EDGES), len(self.ops)))
        if self.edge_normalization:
            self.betas = nn.Parameter(torch.zeros(len(NB201_EDGES)))
        self.reset_parameters(generator)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Initialise weights (Kaiming), alphas and then betas (each ``1e-3 * N(0, 1)``) from `generator`."""
        reset_weights_(self, generator)
        self.alphas.copy_(1e-3 * torch.randn(self.alphas.shape, generator=generator))
        if self.edge_normalization:
            self.betas.copy_(1e-3 * torch.randn(self.betas.shape, generator=generator))

    def weight_parameters(self) -> list[nn.Parameter]:
        """All parameters except the architecture ones (alphas, betas)."""
        return [p for name, p in self.named_parameters() if name not in ("alphas", "betas")]

    def arch_parameters(self) -> list[nn.Parameter]:
        """The alphas ``(6, len(ops))``, then the betas ``(6,)`` under edge normalization."""
        return [self.alphas, self.betas] if self.edge_normalization else [self.alphas]

    def edge_weights(self) -> torch.Tensor | None:
        """``(6,)`` softmax of the betas over each node's incoming edges, or None without edge normalization."""
        return segment_softmax(self.betas, NB201_NODE_EDGES) if self.edge_normalization else None

    def forward(self, x: torch.Tensor, *, genotype: NB201Genotype | None = None) -> torch.Tensor:
        """Logits of the mixture (softmax of alphas), or of one fixed `genotype` through the same weights.

        Args:
            x: ``(B, 3, H, W)`` images.
            genotype: if given, each edge runs only its chosen op (one-hot weights, no alphas, no betas).

        Returns:
            ``(B, num_classes)`` logits.
        """
        active = edge_weights = None  # the cell never computes `none` (it is zero): it acts only through the softmax
        if genotype is None:
            weights = F.softmax(self.alphas.float(), dim=-1)  # float32 under autocast too
            edge_weights = self.edge_weights()
        else:
            active = self.genotype_mask(genotype)
            weights = active.to(device=x.device, dtype=self.alphas.dtype)
        out = self.stem(x)
        for layer in self.layers:
            out = layer(out, weights, active, edge_weights) if isinstance(layer, NB201SearchCell) else layer(out)
        out = self.lastact(out)
        return self.classifier(out.mean(dim=(2, 3)))

    def genotype_mask(self, genotype: NB201Genotype) -> torch.Tensor:
        """``(6, len(ops))`` bool one-hot of `genotype`'s ops (ValueError if an op is not a candidate)."""
        if not isinstance(genotype, NB201Genotype):
            raise ConfigError(f"expected an NB201Genotype, got {type(genotype).__name__}")
        mask = torch.zeros(len(NB201_EDGES), len(self.ops), dtype=torch.bool)
        for k, op in enumerate(genotype.ops):
            if op not in self.ops:
                raise ConfigError(f"op {op!r} is not a candidate of this supernet; candidates: {', '.join(self.ops)}")
            mask[k, self.ops.index(op)] = True
        return mask

    def genotype(self, exclude: tuple[str, ...] = ("none",)) -> NB201Genotype:
        """Argmax op per edge of the current alphas, never choosing an op in ``exclude``.

        By default `none` is excluded, the derivation rule of DARTS: the zero op only scales the
        others during search and is not a final choice (on NB201 it otherwise wins edges whose
        ops are merely undecided). ``exclude=()`` gives the plain argmax.
        """
        alphas = self.alphas.detach().clone()
        banned = [i for i, op in enumerate(self.ops) if op in exclude]
        if len(banned) == len(self.ops):
            raise ConfigError(f"exclude={exclude!r} leaves no candidate op among {', '.join(self.ops)}")
        alphas[:, banned] = float("-inf")
        best = alphas.argmax(dim=-1).tolist()
        return NB201Genotype(tuple(self.ops[i] for i in best))
