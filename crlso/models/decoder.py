"""The decoder contract, and the hand-written decoders of NB201 and DARTS genotypes.

Every decoder maps ``z (B, latent_dim)`` to logits, scores logits against target genotypes
(reconstruction loss) and turns logits into genotypes that are always valid in its space:

- ``nb201``: one 5-way categorical per edge (6 edges); any argmax is a valid cell.
- ``darts``: per cell type and node, a categorical over the unordered pairs of two distinct
  inputs, one over the ops of each chosen input, and one over the order the two pairs are
  listed in; invalid choices are masked, so any argmax is a valid genotype (`DARTSDecoder`).
- ``nb101``: op logits per vertex slot and edge logits per slot pair, then a repair step
  (connect, prune, cap at 9 edges); any logits give a valid cell (`crlso.models.nb101.decoder`).

Every other space of choice rows decodes through `crlso.models.choice_decoder.ChoiceDecoder`. Which decoder a
space uses is its adapter's choice (`crlso.models.spaces`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import itertools
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from nasspace import Genotype, get_space
from nasspace.darts import DARTS_OPS, DARTSGenotype

__all__ = ["GenotypeDecoder", "ResidualBlock", "NB201Decoder", "DARTSDecoder", "create_decoder", "list_decoders"]

def create_decoder(space: str, *, latent_dim: int, hidden: int = 128, num_blocks: int = 2) -> "GenotypeDecoder":
    """The decoder of ``space``, as its adapter builds it (`crlso.models.spaces`).

    Raises:
        ValueError: an unknown space, or one without an adapter; lists the spaces that have one.
    """
    from crlso.models.spaces import get_adapter

    return get_adapter(space).build_decoder(latent_dim=latent_dim, hidden=hidden, num_blocks=num_blocks)


def list_decoders() -> list[str]:
    """Names of the spaces that have a decoder (every space with an adapter)."""
    from crlso.models.spaces import list_adapters

    return list_adapters()


class ResidualBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.LeakyReLU(0.1), nn.Linear(width, width))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.net(x)


class GenotypeDecoder(nn.Module, ABC):
    """Latent codes -> logits -> valid genotypes of one space."""

    space_name: str

    @abstractmethod
    def forward(self, z: Tensor) -> Tensor:
        """Logits of ``z (B, latent_dim)``; the shape is the decoder's own."""

    @abstractmethod
    def targets(self, genotypes: Sequence[Genotype]) -> Tensor:
        """The reconstruction targets of ``genotypes``, in the form `loss` expects."""

    @abstractmethod
    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Mean reconstruction loss per graph (a scalar)."""

    @abstractmethod
    def genotypes(self, logits: Tensor) -> list[Genotype]:
        """The most likely valid genotype of each row of ``logits``."""

    @torch.no_grad()
    def decode(self, z: Tensor) -> list[Genotype]:
        """``z (B, latent_dim)`` -> B valid genotypes."""
        return self.genotypes(self(z))


class NB201Decoder(GenotypeDecoder):
    """MLP with residual blocks -> ``(B, 6, 5)`` logits, one categorical per NB201 edge.

    Args:
        latent_dim: width of the latent code.
        hidden: width of the MLP.
        num_blocks: residual blocks.
    """

    space_name = "nb201"

    def __init__(self, *, latent_dim: int, hidden: int = 128, num_blocks: int = 2):
        super().__init__()
        space = get_space("nb201")
        self.num_edges = len(space.edges)  # type: ignore[attr-defined]
        self.num_ops = len(space.ops)  # type: ignore[attr-defined]
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            *(ResidualBlock(hidden) for _ in range(num_blocks)),
            nn.LeakyReLU(0.1),
            nn.Linear(hidden, self.num_edges * self.num_ops),
        )

    def forward(self, z: Tensor) -> Tensor:
        """``(B, 6, 5)`` op logits per edge."""
        return self.net(z).view(-1, self.num_edges, self.num_ops)

    def targets(self, genotypes: Sequence[Genotype]) -> Tensor:
        """``(B, 6)`` op index per edge."""
        return torch.tensor([g.op_indices for g in genotypes], dtype=torch.long)  # type: ignore[attr-defined]

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Cross-entropy summed over the 6 edges, averaged over graphs."""
        ce = nn.functional.cross_entropy(logits.reshape(-1, self.num_ops), targets.reshape(-1), reduction="sum")
        return ce / logits.shape[0]

    def genotypes(self, logits: Tensor) -> list[Genotype]:
        space = get_space("nb201")
        return [space.from_op_indices(row) for row in logits.argmax(dim=-1).tolist()]  # type: ignore[attr-defined]


_DARTS_CELLS = ("normal", "reduce")
_DARTS_NODES = 4
_DARTS_PARTS = 4  # categoricals per node: input pair, op of the smaller input, op of the larger, order


class DARTSDecoder(GenotypeDecoder):
    """MLP with residual blocks -> ``(B, 32, 10)`` masked logits: 4 categoricals per node of each cell.

    Categorical ``4 * (4 * c + k) + p`` belongs to cell ``c`` (0 normal, 1 reduce), node ``k + 2``
    (inputs ``0 .. k + 1``) and part ``p``:

    - ``p = 0``: the node's two distinct inputs ``a < b``, one of the ``C(k + 2, 2)`` unordered pairs
      (in ``itertools.combinations`` order);
    - ``p = 1`` / ``p = 2``: the op (7 `DARTS_OPS`, never ``none``) on input ``a`` / ``b``;
    - ``p = 3``: the order of the node's two pairs in the genotype (0: ``a`` first, 1: ``b`` first).
      It does not change the network, but `DARTSGenotype` strings (hence dedup and table lookups)
      keep the order they were given, and the NB301 cells list either input first, so decoding
      reproduces it.

    Unused slots (a categorical narrower than 10) are ``-inf``, in `forward` and again in
    `genotypes`, so every argmax, of any logits, is a valid genotype.

    Args:
        latent_dim: width of the latent code.
        hidden: width of the MLP.
        num_blocks: residual blocks.
    """

    space_name = "darts"
    width = 10  # the widest categorical: C(5, 2) input pairs of the last node

    def __init__(self, *, latent_dim: int, hidden: int = 128, num_blocks: int = 2):
        super().__init__()
        self.ops = DARTS_OPS
        self.input_pairs = [list(itertools.combinations(range(k + 2), 2)) for k in range(_DARTS_NODES)]
        self.num_categoricals = len(_DARTS_CELLS) * _DARTS_NODES * _DARTS_PARTS
        sizes = [len(pairs) for pairs in self.input_pairs]
        valid = torch.zeros(self.num_categoricals, self.width, dtype=torch.bool)
        for c in range(len(_DARTS_CELLS)):
            for k in range(_DARTS_NODES):
                base = _DARTS_PARTS * (_DARTS_NODES * c + k)
                for p, size in enumerate((sizes[k], len(self.ops), len(self.ops), 2)):
                    valid[base + p, :size] = True
        self.register_buffer("valid", valid, persistent=False)
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            *(ResidualBlock(hidden) for _ in range(num_blocks)),
            nn.LeakyReLU(0.1),
            nn.Linear(hidden, self.num_categoricals * self.width),
        )

    def forward(self, z: Tensor) -> Tensor:
        """``(B, 32, 10)`` logits, ``-inf`` outside each categorical."""
        return self._mask(self.net(z).view(-1, self.num_categoricals, self.width))

    def _mask(self, logits: Tensor) -> Tensor:
        return logits.masked_fill(~self.valid.to(logits.device), float("-inf"))

    def targets(self, genotypes: Sequence[Genotype]) -> Tensor:
        """``(B, 32)`` the index chosen in every categorical.

        Raises:
            ValueError: a genotype is not a `DARTSGenotype`.
        """
        rows = []
        for g in genotypes:
            if not isinstance(g, DARTSGenotype):
                raise ValueError(f"the darts decoder takes DARTSGenotype targets, got {type(g).__name__}")
            row: list[int] = []
            for cell_type in _DARTS_CELLS:
                for k, ((op0, i0), (op1, i1)) in enumerate(g.nodes(cell_type)):
                    (op_a, a), (op_b, b) = sorted(((op0, i0), (op1, i1)), key=lambda pair: pair[1])
                    row += [self.input_pairs[k].index((a, b)), self.ops.index(op_a), self.ops.index(op_b), int(i0 > i1)]
            rows.append(row)
        return torch.tensor(rows, dtype=torch.long).view(-1, self.num_categoricals)

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Cross-entropy summed over the 32 categoricals, averaged over graphs."""
        ce = nn.functional.cross_entropy(logits.reshape(-1, self.width), targets.reshape(-1), reduction="sum")
        return ce / logits.shape[0]

    def genotypes(self, logits: Tensor) -> list[Genotype]:
        """The valid genotype of each row of ``logits (B, 32, 10)`` (masked argmax per categorical)."""
        choice = self._mask(logits.detach().float()).argmax(dim=-1).tolist()
        out: list[Genotype] = []
        for row in choice:
            cells = []
            for c in range(len(_DARTS_CELLS)):
                pairs: list[tuple[str, int]] = []
                for k in range(_DARTS_NODES):
                    pair, op_a, op_b, order = row[_DARTS_PARTS * (_DARTS_NODES * c + k) :][:_DARTS_PARTS]
                    a, b = self.input_pairs[k][pair]
                    node = [(self.ops[op_a], a), (self.ops[op_b], b)]
                    pairs += node[::-1] if order else node
                cells.append(tuple(pairs))
            out.append(DARTSGenotype(cells[0], cells[1]))
        return out

