"""`ChoiceDecoder`: the VAE decoder of any space whose genotypes are rows of categorical choices.

A space gives ``choice_sizes`` ``(P,)``, ``to_choices(genotype) -> (P,)`` option indices and
``from_choices(row) -> genotype``, which must return a valid genotype for any row (repairing it where the
space has constraints, e.g. to the nearest architecture of its table). The decoder is an MLP with residual
blocks giving one masked categorical per position; NB201, TransNAS-Bench-101 micro (ops on 6 edges),
NAS-Bench-Graph (a link pattern and 4 node ops), chains of layers and users' cells all decode through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from nasspace import Genotype

from crlso.models.decoder import GenotypeDecoder, ResidualBlock

__all__ = ["ChoiceDecoder"]


class ChoiceDecoder(GenotypeDecoder):
    """``z (B, latent_dim)`` -> ``(B, P, W)`` logits, ``-inf`` past each position's option count ``W_p <= W``.

    Args:
        space: a space with ``choice_sizes``, ``to_choices`` and ``from_choices``.
        latent_dim: width of the latent code.
        hidden: width of the MLP.
        num_blocks: residual blocks.
    """

    def __init__(self, space: Any, *, latent_dim: int, hidden: int = 128, num_blocks: int = 2):
        super().__init__()
        self.space, self.space_name = space, space.name
        sizes = tuple(int(n) for n in space.choice_sizes)
        self.num_positions, self.width = len(sizes), max(sizes)
        valid = torch.arange(self.width).unsqueeze(0) < torch.tensor(sizes).unsqueeze(1)
        self.register_buffer("valid", valid, persistent=False)
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            *(ResidualBlock(hidden) for _ in range(num_blocks)),
            nn.LeakyReLU(0.1),
            nn.Linear(hidden, self.num_positions * self.width),
        )

    def _mask(self, logits: Tensor) -> Tensor:
        return logits.masked_fill(~self.valid.to(logits.device), float("-inf"))

    def forward(self, z: Tensor) -> Tensor:
        """``(B, P, W)`` logits, ``-inf`` outside each position's options."""
        return self._mask(self.net(z).view(-1, self.num_positions, self.width))

    def targets(self, genotypes: Sequence[Genotype]) -> Tensor:
        """``(B, P)`` option index per position."""
        return torch.tensor([self.space.to_choices(g) for g in genotypes], dtype=torch.long).view(-1, self.num_positions)

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Cross-entropy summed over the positions, averaged over graphs."""
        ce = nn.functional.cross_entropy(logits.reshape(-1, self.width), targets.reshape(-1), reduction="sum")
        return ce / logits.shape[0]

    def genotypes(self, logits: Tensor) -> list[Genotype]:
        """The masked argmax of every position, through the space's ``from_choices`` (which repairs)."""
        rows = self._mask(logits.detach().float()).argmax(dim=-1).tolist()
        return [self.space.from_choices(row) for row in rows]
