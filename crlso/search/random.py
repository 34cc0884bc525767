"""Random search: uniform samples of the space, never one already evaluated."""

from __future__ import annotations

from dataclasses import dataclass

from nasspace import Genotype

from crlso.search.base import Searcher, register_searcher, sample_unseen_batch

__all__ = ["RandomSearch", "RandomConfig"]


@dataclass(frozen=True)
class RandomConfig:
    """Random search has no option; the seed is all."""


@register_searcher("random")
class RandomSearch(Searcher):
    """Uniform random sampling without repeats."""

    Config = RandomConfig

    def ask(self, n: int) -> list[Genotype]:
        return sample_unseen_batch(self.space, self.rng, self.seen, n)
