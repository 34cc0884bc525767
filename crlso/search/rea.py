"""Regularized evolution (REA, Real et al. 2019): tournament selection, mutation, age-based removal."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from nasspace import Genotype
from nasspace.options import AT_LEAST_ONE, check_numbers

from crlso.search.base import Searcher, register_searcher, sample_unseen
from crlso.errors import ConfigError

__all__ = ["RegularizedEvolution", "REAConfig"]


@dataclass(frozen=True)
class REAConfig:
    """Population size, tournament size, and how many mutation draws to try for an unseen child."""

    population_size: int = 20
    sample_size: int = 5
    max_mutation_tries: int = 50

    def __post_init__(self) -> None:
        check_numbers(self, default=AT_LEAST_ONE)


@register_searcher("rea")
class RegularizedEvolution(Searcher):
    """Random initial population, then one child at a time from the best of a random tournament.

    A child is a one-edge mutation of its parent (``space.mutate``); a mutation that gives an
    already-evaluated cell is drawn again (bounded), then a fresh random cell is used instead.
    """

    Config = REAConfig

    def __init__(self, space, *, seed: int, config: REAConfig | None = None):
        super().__init__(space, seed=seed, config=config)
        if self.config.sample_size > self.config.population_size or self.config.sample_size < 1:
            raise ConfigError("sample_size must be between 1 and population_size")
        self.population: deque[tuple[Genotype, float]] = deque()

    def ask(self, n: int) -> list[Genotype]:
        if len(self.observed) < self.config.population_size:
            return self.mark([sample_unseen(self.space, self.rng, self.seen)], "init")
        members = list(self.population)
        picks = self.rng.choice(len(members), size=self.config.sample_size, replace=False)
        parent = max((members[int(i)] for i in picks), key=lambda item: item[1])[0]
        for _ in range(self.config.max_mutation_tries):
            child = self.space.mutate(parent, self.rng)
            if str(child) not in self.seen:
                return self.mark([child], "mutation")
        return self.mark([sample_unseen(self.space, self.rng, self.seen)], "fill")

    def tell(self, genotypes, values) -> None:
        super().tell(genotypes, values)
        for genotype, value in zip(genotypes, values):
            self.population.append((genotype, float(value)))
            if len(self.population) > self.config.population_size:
                self.population.popleft()
