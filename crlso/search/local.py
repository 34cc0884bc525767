"""Local search: best-improvement hill climbing over one-edge neighbours, with random restarts."""

from __future__ import annotations

from dataclasses import dataclass

from nasspace import Genotype
from nasspace.options import AT_LEAST_ONE, check_numbers

from crlso.search.base import Searcher, SearchExhausted, register_searcher, sample_unseen

__all__ = ["LocalSearch", "LocalConfig"]


@dataclass(frozen=True)
class LocalConfig:
    """Random cells evaluated before the first climb starts from the best of them."""

    n_init: int = 10

    def __post_init__(self) -> None:
        check_numbers(self, default=AT_LEAST_ONE)


@register_searcher("local")
class LocalSearch(Searcher):
    """Evaluate every unseen neighbour of the current cell (random order), move to the best
    evaluated neighbour if it beats the current cell, else restart from a random unseen cell.
    """

    Config = LocalConfig

    def __init__(self, space, *, seed: int, config: LocalConfig | None = None):
        super().__init__(space, seed=seed, config=config)
        self.values: dict[str, float] = {}
        self.center: Genotype | None = None
        self.queue: list[Genotype] = []

    def tell(self, genotypes, values) -> None:
        super().tell(genotypes, values)
        for genotype, value in zip(genotypes, values):
            self.values[str(genotype)] = float(value)

    def _enter(self, center: Genotype) -> None:
        self.center = center
        neighbours = self.space.neighbors(center)
        order = self.rng.permutation(len(neighbours))
        self.queue = [neighbours[int(i)] for i in order]

    def _move(self) -> None:
        """Pick the next centre once the current neighbourhood is exhausted."""
        assert self.center is not None
        best = max(self.space.neighbors(self.center), key=lambda g: self.values.get(str(g), float("-inf")))
        if self.values.get(str(best), float("-inf")) > self.values[str(self.center)]:
            self._enter(best)
        else:
            self.center = None
            self.queue = []

    def ask(self, n: int) -> list[Genotype]:
        if len(self.observed) < self.config.n_init:
            return self.mark([sample_unseen(self.space, self.rng, self.seen)], "init")
        if self.center is None and not self.queue and len(self.observed) == self.config.n_init:
            best = self.best()
            assert best is not None
            self._enter(best[0])
        for _ in range(10_000):
            if self.center is None:  # restart: evaluate a random cell, climb from it
                start = sample_unseen(self.space, self.rng, self.seen)
                self._enter(start)
                return self.mark([start], "restart")
            if str(self.center) not in self.values:
                return [self.center]
            while self.queue:
                candidate = self.queue.pop(0)
                if str(candidate) not in self.seen:
                    return self.mark([candidate], "neighbour")
            self._move()
        raise SearchExhausted("local search found nothing to evaluate")
