"""Per-space decoders from latent codes to genotypes, behind one registry.

Every decoder maps ``z (B, latent_dim)`` to logits, scores logits against target genotypes
(reconstruction loss) and turns logits into genotypes that are always valid in its space:

- ``nb201``: one 5-way categorical per edge (6 edges); any argmax is a valid cell.
- ``nb101`` / ``darts`` (not built yet) register here with the same interface: adjacency + op
  logits with a repair step (NB101), or per-node (input, op) pair logits constrained to two
  distinct inputs (DARTS).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from nasspace import Genotype, get_space

__all__ = ["GenotypeDecoder", "NB201Decoder", "register_decoder", "create_decoder", "list_decoders"]

_DECODERS: dict[str, type["GenotypeDecoder"]] = {}


def register_decoder(space: str) -> Callable[[type["GenotypeDecoder"]], type["GenotypeDecoder"]]:
    """Class decorator: register a decoder class for a space name."""

    def decorate(cls: type[GenotypeDecoder]) -> type[GenotypeDecoder]:
        _DECODERS[space] = cls
        return cls

    return decorate


def list_decoders() -> list[str]:
    """Names of the spaces that have a decoder."""
    return sorted(_DECODERS)


def create_decoder(space: str, *, latent_dim: int, hidden: int = 128, num_blocks: int = 2) -> "GenotypeDecoder":
    """The decoder of ``space``.

    Raises:
        ValueError: no decoder for ``space``; lists the spaces that have one.
    """
    if space not in _DECODERS:
        raise ValueError(f"no decoder for space {space!r}; valid: {', '.join(list_decoders())}")
    return _DECODERS[space](latent_dim=latent_dim, hidden=hidden, num_blocks=num_blocks)


class _ResidualBlock(nn.Module):
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


@register_decoder("nb201")
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
            *(_ResidualBlock(hidden) for _ in range(num_blocks)),
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
