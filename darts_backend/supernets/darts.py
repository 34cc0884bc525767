"""The DARTS-space search network: k nodes per cell, DARTS ops, normal and reduction cells.

Two modes:

* ``shared`` (classic DARTS, NB301-compatible): one alpha set per cell *type*, softmax over the ops
  of each edge (``edge_softmax``), 8 ops including ``none``; the genotype keeps the top-2 inputs
  per node (`DartsSearchNetwork.darts_genotype`).
* ``per_cell`` (the flexible space of DNAD / FX-DARTS): one alpha set per cell, the weights of a
  node normalised over *all* its (input, op) pairs (``node_relu``: ReLU(a) / sum ReLU(a), DNAD;
  ``node_softmax``: softmax), no two-input rule, no ``none``; the genotype is every pair still
  alive (`DartsSearchNetwork.flex_genotype`).

Alphas have shape ``(G, E, O)``: ``G`` groups (2 cell types, or one per cell), ``E = k(k+3)/2``
edges (node ``i`` reads inputs ``0..i+1``; edge ``offset(i) + j``), ``O`` ops. The on-device bool
buffer ``alive`` of the same shape marks pairs not yet deleted; it enters the normalisation as a
mask, so a deleted pair has weight exactly zero. `DartsSearchNetwork.delete` removes pairs for
good: it updates ``alive`` and rebuilds a Python-side *plan* (per cell, per node, the alive pairs)
that the forward pass follows, so deleted paths are never computed and the forward pass never reads
a device value (no host-device synchronisation). A node whose pairs are all gone is dropped with
every pair that reads it (cascading); its channels leave the cell output, and the 1x1
preprocessing of the consumers and the classifier use only the surviving input channels (sliced
weights). A cell never loses its last node: if a deletion would empty it, the best-weighted pair
reading a cell input survives.

A fixed DARTS genotype runs through the same weights with ``forward(x, genotype=g)``: each node
computes only its two chosen (input, op) pairs, each with weight 1, in every cell of the genotype's
cell type (no alphas, no ``alive`` mask: a pair deleted by shrinking still has its last weights).
Parameter-free candidates (pools, identity skip) are computed once
per (input, op) and shared by all nodes reading that input; pools are followed by an affine-free
batch-statistics BN as in DARTS.

PC-DARTS options (``shared`` mode only; `darts_backend.supernets.partial`), both off by default:
``partial_channels=K`` runs the ops of an edge on the first ``C/K`` channels of its input and passes
the rest by (max-pooled 2x2 on stride-2 edges), then shuffles the channels in ``K`` groups;
``edge_normalization=True`` adds betas ``(2, E)`` and makes each node the ``softmax(beta)``-weighted
combination of its incoming edges. The DARTS derivation then ranks a node's inputs by edge weight
times op weight, as PC-DARTS does; the op of an input stays its best op.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from darts_backend.ops import DARTS_OP_NAMES, reset_weights_
from darts_backend.supernets.darts_cell import DartsSearchCell, NodePair, edge_offsets
from darts_backend.supernets.partial import check_partial_channels, segment_softmax
from nasspace.darts import DARTSGenotype
from nasspace.flex import FLEX_OPS, FlexCell, FlexGenotype, reduction_layout
from darts_backend.errors import ConfigError

__all__ = ["MODES", "NORMALIZATIONS", "NodePair", "DartsSearchCell", "DartsSearchNetwork", "edge_offsets"]

MODES = ("shared", "per_cell")
NORMALIZATIONS = ("edge_softmax", "node_softmax", "node_relu")
_EPS = 1e-8


class DartsSearchNetwork(nn.Module):
    """The DARTS-space supernet.

    Stem conv3x3 (``stem_multiplier * C`` channels) + BN; `num_cells` cells with reductions at
    ``num_cells // 3`` and ``2 * num_cells // 3`` (channels double there); global pool; linear classifier.

    Args:
        C: node channels of the first stage.
        num_cells: cells in the network (>= 3).
        nodes: intermediate nodes per cell (k).
        ops: candidate ops (default: the 8 DARTS ops for ``shared``, `FLEX_OPS` for ``per_cell``).
        mode: ``shared`` or ``per_cell`` (see the module docstring).
        normalization: one of `NORMALIZATIONS` (default ``edge_softmax`` for ``shared``, ``node_relu`` otherwise).
        num_classes: classifier outputs.
        stem_multiplier: stem width in units of C.
        partial_channels: PC-DARTS's K (1: off; ``shared`` mode only); must divide C.
        edge_normalization: PC-DARTS's per-edge betas ``(2, E)`` (``shared`` mode only).
        generator: seeds the initial weights, alphas and betas (the global RNG is not touched).

    Raises:
        ValueError: unknown mode, normalization or op; ``none`` in ``per_cell`` mode; bad sizes; PC-DARTS
            options outside ``shared`` mode or a K that does not divide C.
    """

    def __init__(self, *, C: int = 16, num_cells: int = 8, nodes: int = 4, ops: Sequence[str] | None = None,
                 mode: str = "shared", normalization: str | None = None, num_classes: int = 10,
                 stem_multiplier: int = 3, partial_channels: int = 1, edge_normalization: bool = False,
                 generator: torch.Generator | None = None):
        super().__init__()
        if mode not in MODES:
            raise ConfigError(f"unknown mode {mode!r}; valid modes: {', '.join(MODES)}")
        if mode != "shared" and (partial_channels != 1 or edge_normalization):
            raise ConfigError("partial_channels and edge_normalization (PC-DARTS) are available in 'shared' mode only, "
                              f"got mode {mode!r}")
        check_partial_channels(partial_channels, [C, 2 * C, 4 * C])
        normalization = normalization or ("edge_softmax" if mode == "shared" else "node_relu")
        if normalization not in NORMALIZATIONS:
            raise ConfigError(f"unknown normalization {normalization!r}; valid: {', '.join(NORMALIZATIONS)}")
        ops = tuple(ops or (DARTS_OP_NAMES if mode == "shared" else FLEX_OPS))
        valid = DARTS_OP_NAMES if mode == "shared" else FLEX_OPS
        bad = [op for op in ops if op not in valid]
        if bad or not ops or len(set(ops)) != len(ops):
            raise ConfigError(f"ops {list(ops)} must be distinct names from {', '.join(valid)} in mode {mode!r}")
        if C < 1 or nodes < 1 or num_classes < 1 or stem_multiplier < 1:
            raise ConfigError("C, nodes, num_classes and stem_multiplier must be positive")
        self.layout = reduction_layout(num_cells)  # GenotypeError (a ValueError) below 3 cells
        self.mode, self.normalization, self.ops, self.k, self.C = mode, normalization, ops, nodes, C
        self.partial_channels, self.edge_normalization = partial_channels, bool(edge_normalization)
        self.offsets = edge_offsets(nodes)
        self.num_edges = self.offsets[-1]
        self.group_of = [(0 if t == "normal" else 1) if mode == "shared" else c for c, t in enumerate(self.layout)]
        num_groups = 2 if mode == "shared" else num_cells

        c_stem = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(3, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem))
        C_pp, C_p, c_curr = c_stem, c_stem, C
        self.cells = nn.ModuleList()
        self.node_channels: list[int] = []
        reduction_prev = False
        for cell_type in self.layout:
            reduction = cell_type == "reduce"
            if reduction:
                c_curr *= 2
            self.cells.append(DartsSearchCell(C_pp, C_p, c_curr, reduction=reduction, reduction_prev=reduction_prev,
                                              k=nodes, ops=ops, partial_channels=partial_channels))
            self.node_channels.append(c_curr)
            C_pp, C_p, reduction_prev = C_p, nodes * c_curr, reduction
        self.stage_ends = [c - 1 for c, t in enumerate(self.layout) if t == "reduce"] + [num_cells - 1]
        self.classifier = nn.Linear(C_p, num_classes)
        self.register_buffer("classifier_keep", torch.arange(C_p), persistent=False)
        self.alphas = nn.Parameter(torch.zeros(num_groups, self.num_edges, len(ops)))
        self.register_buffer("alive", torch.ones(num_groups, self.num_edges, len(ops), dtype=torch.bool))
        if self.edge_normalization:
            self.betas = nn.Parameter(torch.zeros(num_groups, self.num_edges))
        self.reset_parameters(generator)
        self.rebuild()

    # -- parameters -----------------------------------------------------------------------------------
    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Kaiming weights; alphas ``1e-3 * N(0, 1)`` (plus 1 under ``node_relu``, so all start alive); then
        betas ``1e-3 * N(0, 1)`` under edge normalization."""
        reset_weights_(self, generator)
        noise = 1e-3 * torch.randn(self.alphas.shape, generator=generator)
        self.alphas.copy_(noise + (1.0 if self.normalization == "node_relu" else 0.0))
        if self.edge_normalization:
            self.betas.copy_(1e-3 * torch.randn(self.betas.shape, generator=generator))

    def weight_parameters(self) -> list[nn.Parameter]:
        """All parameters except the architecture ones (alphas, betas)."""
        return [p for name, p in self.named_parameters() if name not in ("alphas", "betas")]

    def arch_parameters(self) -> list[nn.Parameter]:
        """The alphas ``(G, E, O)``, then the betas ``(G, E)`` under edge normalization."""
        return [self.alphas, self.betas] if self.edge_normalization else [self.alphas]

    def edge_weights(self) -> torch.Tensor | None:
        """``(G, E)`` softmax of the betas over each node's incoming edges (edges with no alive op other
        than ``none`` get 0), or None without edge normalization."""
        if not self.edge_normalization:
            return None
        alive = self.alive
        if "none" in self.ops:
            o = self.ops.index("none")
            alive = torch.cat([alive[..., :o], alive[..., o + 1:]], dim=-1)
        bounds = [(self.offsets[i], self.offsets[i + 1]) for i in range(self.k)]
        return segment_softmax(self.betas, bounds, alive.any(dim=-1))

    # -- weights --------------------------------------------------------------------------------------
    def pair_weights(self) -> torch.Tensor:
        """``(G, E, O)`` normalised weights; deleted pairs (and ``none``) are exactly 0 where masked.

        Under ``edge_softmax`` each edge sums to 1 over its alive ops (``none`` included); under the node
        normalisations each alive node sums to 1 over its alive (input, op) pairs; a node with no alive
        pair has all-zero weights (never a division by zero).
        """
        a, mask = self.alphas.float(), self.alive
        if self.normalization == "edge_softmax":
            return torch.softmax(a.masked_fill(~mask, -1e9), dim=-1) * mask
        parts = []
        g, o = a.shape[0], a.shape[2]
        for i in range(self.k):
            lo, hi = self.offsets[i], self.offsets[i + 1]
            ai, mi = a[:, lo:hi].reshape(g, -1), mask[:, lo:hi].reshape(g, -1)
            if self.normalization == "node_softmax":
                wi = torch.softmax(ai.masked_fill(~mi, -1e9), dim=-1) * mi
            else:
                r = F.relu(ai) * mi
                wi = r / r.sum(dim=-1, keepdim=True).clamp_min(_EPS)
            parts.append(wi.reshape(g, hi - lo, o))
        return torch.cat(parts, dim=1)

    def node_weights(self, weights: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Per node ``i``, the ``(G, (i+2) * O)`` weights of its pairs (for node-wise regularisers)."""
        w = self.pair_weights() if weights is None else weights
        return [w[:, self.offsets[i]:self.offsets[i + 1]].reshape(w.shape[0], -1) for i in range(self.k)]

    # -- forward --------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, *, return_features: bool = False, genotype: DARTSGenotype | None = None
                ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits of the mixture, or of one fixed `genotype` through the same weights.

        Args:
            x: ``(B, 3, H, W)`` images.
            return_features: also return the stage-end cell outputs (for distillation), each zero-filled
                to its full width ``(B, k * C_stage, H_s, W_s)``.
            genotype: if given, each node runs only its two chosen (input, op) pairs with weight 1
                (see `genotype_plans`); not with ``return_features``.

        Returns:
            ``(B, num_classes)`` logits, and the list of stage-end features if asked.

        Raises:
            ValueError: ``genotype`` with ``return_features``, or a genotype the network cannot run.
        """
        if x.device.type == "cpu":  # channels-last-strided CPU input crashes small depthwise conv backward (torch 2.13)
            x = x.contiguous()
        if genotype is not None:
            if return_features:
                raise ConfigError("return_features is not available with a fixed genotype")
            return self._genotype_forward(x, genotype)
        flat = self.pair_weights().reshape(self.alphas.shape[0], -1)
        edge_weights = self.edge_weights()
        s0 = s1 = self.stem(x)
        features = []
        for c, cell in enumerate(self.cells):
            g = self.group_of[c]
            s0, s1 = s1, cell(s0, s1, flat[g], edge_weights=None if edge_weights is None else edge_weights[g])
            if return_features and c in self.stage_ends:
                features.append(self._full_width(c, s1))
        pooled = F.adaptive_avg_pool2d(s1, 1).flatten(1)
        weight = self.classifier.weight
        if self.classifier_keep.numel() != weight.shape[1]:
            weight = weight.index_select(1, self.classifier_keep)
        logits = F.linear(pooled, weight, self.classifier.bias)
        return (logits, features) if return_features else logits

    def genotype_plans(self, genotype: DARTSGenotype) -> dict[str, list[list[NodePair]]]:
        """Per cell type, per node, the two `NodePair` of ``genotype`` (``flat`` indexes ``(E * O,)``).

        Raises:
            ValueError: not a `DARTSGenotype`, the network does not have 4 nodes, or an op of the
                genotype is not among the network's candidate ops.
        """
        if not isinstance(genotype, DARTSGenotype):
            raise ConfigError(f"expected a DARTSGenotype, got {type(genotype).__name__}")
        if self.k != 4:
            raise ConfigError(f"a DARTS genotype has 4 nodes per cell; this network has {self.k}")
        plans: dict[str, list[list[NodePair]]] = {}
        for cell_type in ("normal", "reduce"):
            plan = []
            for i, node in enumerate(genotype.nodes(cell_type)):
                pairs = []
                for op, j in node:
                    if op not in self.ops:
                        raise ConfigError(f"op {op!r} of the genotype is not a candidate of this network; "
                                          f"its ops: {', '.join(self.ops)}")
                    edge, o = self.offsets[i] + j, self.ops.index(op)
                    pairs.append(NodePair(edge, j, o, op, edge * len(self.ops) + o))
                plan.append(pairs)
            plans[cell_type] = plan
        return plans

    def _genotype_forward(self, x: torch.Tensor, genotype: DARTSGenotype) -> torch.Tensor:
        """``(B, num_classes)`` logits of ``genotype``'s sub-network (every node present, full widths)."""
        plans = self.genotype_plans(genotype)
        shrunk = any(len(keep) != self.k * self.node_channels[c] for c, keep in enumerate(self._cell_channels))
        if shrunk:  # the genotype has every node: use every channel for this pass, then restore the plan's widths
            self._use_full_widths()
        try:
            ones = x.new_ones(self.num_edges * len(self.ops))
            s0 = s1 = self.stem(x)
            for c, cell in enumerate(self.cells):
                s0, s1 = s1, cell(s0, s1, ones, plans[self.layout[c]])
            pooled = F.adaptive_avg_pool2d(s1, 1).flatten(1)
            return self.classifier(pooled)
        finally:
            if shrunk:
                self.rebuild()

    def _use_full_widths(self) -> None:
        """Preprocessing and classifier read every channel of every node (as before any deletion)."""
        stem_c = self.stem[0].out_channels
        widths = [self.k * c for c in self.node_channels]
        for c, cell in enumerate(self.cells):
            cell.pre0.set_keep(range(stem_c if c < 2 else widths[c - 2]))
            cell.pre1.set_keep(range(stem_c if c < 1 else widths[c - 1]))
        self.classifier_keep = torch.arange(widths[-1], device=self.classifier.weight.device)

    def feature_channels(self) -> list[int]:
        """Channels of each stage-end feature returned by ``forward(..., return_features=True)``."""
        return [self.k * self.node_channels[c] for c in self.stage_ends]

    def _full_width(self, c: int, out: torch.Tensor) -> torch.Tensor:
        keep = self._cell_channels[c]
        full_c = self.k * self.node_channels[c]
        if len(keep) == full_c:
            return out
        full = out.new_zeros(out.shape[0], full_c, *out.shape[2:])
        return full.index_copy(1, self._keep_tensors[c], out)

    # -- structure ------------------------------------------------------------------------------------
    def alive_nodes(self, group: int) -> list[bool]:
        """Which intermediate nodes of `group` still have a pair (host-side plan)."""
        return [bool(pairs) for pairs in self._plans[group]]

    def num_alive_pairs(self) -> int:
        """Alive (input, op) pairs over all groups, ``none`` excluded (host-side plan)."""
        return sum(len(pairs) for plan in self._plans for pairs in plan)

    def rebuild(self) -> None:
        """Recompute the host-side plans from ``alive`` (one device read; call after changing it)."""
        alive = self.alive.detach().cpu()
        num_ops = len(self.ops)
        self._plans: list[list[list[NodePair]]] = []
        for g in range(alive.shape[0]):
            plan: list[list[NodePair]] = []
            for i in range(self.k):
                pairs = [NodePair(self.offsets[i] + j, j, o, op, (self.offsets[i] + j) * num_ops + o)
                         for j in range(i + 2) for o, op in enumerate(self.ops)
                         if op != "none" and bool(alive[g, self.offsets[i] + j, o])]
                plan.append(pairs)
            self._plans.append(plan)
        self._cell_channels: list[list[int]] = []
        self._keep_tensors: list[torch.Tensor] = []
        device = self.alphas.device
        for c, cell in enumerate(self.cells):
            cell.plan = self._plans[self.group_of[c]]
            width = self.node_channels[c]
            keep = [n * width + ch for n, pairs in enumerate(cell.plan) if pairs for ch in range(width)]
            self._cell_channels.append(keep)
            self._keep_tensors.append(torch.tensor(keep, dtype=torch.long, device=device))
        stem_c = self.stem[0].out_channels
        for c, cell in enumerate(self.cells):
            cell.pre0.set_keep(range(stem_c) if c < 2 else self._cell_channels[c - 2])
            cell.pre1.set_keep(range(stem_c) if c < 1 else self._cell_channels[c - 1])
        self.classifier_keep = self._keep_tensors[-1]

    @torch.no_grad()
    def delete(self, remove: torch.Tensor) -> int:
        """Delete the pairs marked in `remove` for good, dropping emptied nodes and their uses.

        Args:
            remove: ``(G, E, O)`` bool (any device); True marks a pair to delete. ``none`` columns are ignored.

        Returns:
            The number of (input, op) pairs actually deleted (cascades included, survivors excluded).
        """
        if tuple(remove.shape) != tuple(self.alive.shape):
            raise ConfigError(f"remove must have shape {tuple(self.alive.shape)}, got {tuple(remove.shape)}")
        old = self.alive.detach().cpu()
        weights = self.pair_weights().detach().cpu()
        new = old & ~remove.detach().cpu().bool()
        if "none" in self.ops:
            new[:, :, self.ops.index("none")] = old[:, :, self.ops.index("none")]
        for g in range(new.shape[0]):
            self._cascade(new[g], old[g], weights[g])
        deleted = int((old & ~new).sum()) - self._none_count(old, new)
        self.alive.copy_(new.to(self.alive.device))
        self.rebuild()
        return deleted

    def _none_count(self, old: torch.Tensor, new: torch.Tensor) -> int:
        if "none" not in self.ops:
            return 0
        o = self.ops.index("none")
        return int((old[:, :, o] & ~new[:, :, o]).sum())

    def _real(self, mask: torch.Tensor) -> torch.Tensor:
        """``mask`` with the ``none`` column cleared (``none`` alone does not keep a node alive)."""
        if "none" not in self.ops:
            return mask
        out = mask.clone()
        out[:, self.ops.index("none")] = False
        return out

    def _cascade(self, new: torch.Tensor, old: torch.Tensor, weights: torch.Tensor) -> None:
        """Drop pairs reading dropped nodes (in place on `new` ``(E, O)``); keep at least one node."""
        dead: list[bool] = []
        for i in range(self.k):
            lo, hi = self.offsets[i], self.offsets[i + 1]
            for j in range(2, i + 2):
                if dead[j - 2]:
                    new[lo + j] = False
            dead.append(not bool(self._real(new[lo:hi]).any()))
        if all(dead):
            # restore the best pair (by pre-deletion weight) that reads a cell input
            candidates = self._real(old).clone()
            for i in range(self.k):
                candidates[self.offsets[i] + 2:self.offsets[i + 1]] = False
            score = torch.where(candidates, weights, torch.full_like(weights, -1.0))
            e, o = divmod(int(score.argmax()), score.shape[1])
            new[e, o] = True
            if "none" in self.ops:  # an edge-softmax edge keeps its `none` column with it
                new[e, self.ops.index("none")] = old[e, self.ops.index("none")]

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):  # type: ignore[no-untyped-def,override]
        """Load weights, alphas and the ``alive`` mask, then rebuild the plan."""
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self.rebuild()
        return result

    def _apply(self, fn, recurse: bool = True):  # type: ignore[no-untyped-def,override]
        """Move like any module, then rebuild the index tensors on the new device."""
        result = super()._apply(fn, recurse)
        if hasattr(self, "_plans"):
            self.rebuild()
        return result

    # -- genotypes ------------------------------------------------------------------------------------
    def flex_genotype(self) -> FlexGenotype:
        """Every alive pair, one cell per position; dropped nodes removed and later nodes renumbered."""
        cells = []
        for c, cell_type in enumerate(self.layout):
            plan = self._plans[self.group_of[c]]
            new_index = {0: 0, 1: 1}
            nodes = []
            for i, pairs in enumerate(plan):
                if not pairs:
                    continue
                new_index[i + 2] = len(nodes) + 2
                nodes.append(tuple((p.op, new_index[p.source]) for p in pairs))
            cells.append(FlexCell(cell_type, tuple(nodes)))
        return FlexGenotype(tuple(cells))

    def darts_genotype(self) -> DARTSGenotype:
        """Classic DARTS derivation (``shared`` mode, k = 4): per node, the two inputs whose best
        non-``none`` op weighs most (times the edge weight under edge normalization), each with that op."""
        if self.mode != "shared" or self.k != 4:
            raise ConfigError("a DARTS genotype is derived only in 'shared' mode with 4 nodes; use flex_genotype()")
        w = self.pair_weights().detach()
        edge_weights = self.edge_weights()
        if edge_weights is not None:  # PC-DARTS: rank inputs by edge weight x op weight
            w = w * edge_weights.detach().unsqueeze(-1)
        w = w.cpu().clone()
        w[~self.alive.cpu()] = -1.0
        if "none" in self.ops:
            w[:, :, self.ops.index("none")] = -1.0
        cells = []
        for g in range(2):
            pairs = []
            for i in range(self.k):
                lo = self.offsets[i]
                best = [(float(w[g, lo + j].max()), j, self.ops[int(w[g, lo + j].argmax())]) for j in range(i + 2)]
                best.sort(key=lambda t: (-t[0], t[1]))
                pairs.extend((op, j) for _, j, op in sorted(best[:2], key=lambda t: t[1]))
            cells.append(tuple(pairs))
        return DARTSGenotype(cells[0], cells[1])

    def genotype(self) -> DARTSGenotype | FlexGenotype:
        """`darts_genotype` in ``shared`` mode with 4 nodes, else `flex_genotype`."""
        return self.darts_genotype() if self.mode == "shared" and self.k == 4 else self.flex_genotype()
