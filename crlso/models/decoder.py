"""The decoder contract: latent codes -> logits -> valid genotypes of one space.

Every decoder maps ``z (B, latent_dim)`` to logits, scores logits against target genotypes
(reconstruction loss) and turns logits into genotypes that are always valid in its space. Two exist:

- `crlso.models.choice_decoder.ChoiceDecoder`: one masked categorical per choice of a genotype seen as a row of
  choices; NB201 (6 edge ops), DARTS (`nasspace.darts_choices`), TransNAS micro, NAS-Bench-Graph and users'
  spaces decode through it;
- `crlso.models.nb101.decoder.NB101Decoder`: op logits per vertex slot and edge logits per slot pair, then a
  repair step that uses the edge probabilities (connect, prune, cap at 9 edges).

Which decoder a space uses is its adapter's choice (`crlso.models.spaces.create_decoder`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from nasspace import Genotype

__all__ = ["GenotypeDecoder", "ResidualBlock"]


class ResidualBlock(nn.Module):
    """``x + MLP(LayerNorm(x))`` at a fixed width ``(B, width) -> (B, width)``."""

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
