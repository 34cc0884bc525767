"""The cells the NB101 latent model trains on: sampled from the space, no table needed.

`sample_cells` draws distinct valid cells (distinct by canonical string) in a spread that covers
the space by size: the vertex count ``n`` is drawn with weights `VERTEX_WEIGHTS` (2..7); each
middle vertex gets one uniform predecessor and one uniform successor (so all ``n`` vertices are
live; redrawn if that already exceeds 9 edges); then a uniform number of further distinct edges,
up to 9 in all, uniformly among the free upper-triangular entries. (`NB101Space.sample`, the benchmark's own
example sampler, puts a tenth of its draws on the 2-vertex cell and repeats cells often.)

`nb101_training_cells`: `SAMPLE_SIZE` cells of seed `SAMPLE_SEED`, then NASLib's labelled cells
(their genotypes only, never their labels) not already among them. The size is set for a 2-core
CPU (a few minutes of pre-training); the CR-LSO paper pre-trains on the whole space (423,624 cells),
which on a GPU means raising `SAMPLE_SIZE` (and the nb101 adapter's ``cache_tag`` in `crlso.models.spaces.builtin`, which names it in the
cache key) to 100,000 or more.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nasspace import Genotype
from nasspace.fetch import DataStore
from nasspace.nb101 import NB101_MAX_EDGES, NB101_MAX_VERTICES, NB101_OPS, NB101Genotype
from crlso.errors import ConfigError

__all__ = ["VERTEX_WEIGHTS", "SAMPLE_SIZE", "SAMPLE_SEED", "sample_cell", "sample_cells", "nb101_training_cells",
           "training_source_tag"]

VERTEX_WEIGHTS: tuple[float, ...] = (0.01, 0.04, 0.15, 0.25, 0.25, 0.30)  # n = 2, 3, 4, 5, 6, 7
SAMPLE_SIZE = 10_000
SAMPLE_SEED = 0


def sample_cell(rng: np.random.Generator) -> NB101Genotype:
    """One valid cell (see the module doc for the distribution)."""
    n = 2 + int(rng.choice(len(VERTEX_WEIGHTS), p=np.asarray(VERTEX_WEIGHTS) / sum(VERTEX_WEIGHTS)))
    rows, cols = np.triu_indices(n, k=1)
    while True:  # each middle vertex gets a random predecessor and successor, so every vertex is live
        matrix = np.zeros((n, n), dtype=np.int64)
        if n == 2:
            matrix[0, 1] = 1
        for v in range(1, n - 1):
            matrix[rng.integers(v), v] = 1
            matrix[v, rng.integers(v + 1, n)] = 1
        base = int(matrix.sum())
        if base > NB101_MAX_EDGES:
            continue
        free = np.flatnonzero(matrix[rows, cols] == 0)
        extra = int(rng.integers(0, min(NB101_MAX_EDGES - base, free.size) + 1))
        pick = rng.choice(free, size=extra, replace=False)
        matrix[rows[pick], cols[pick]] = 1
        middle = rng.integers(len(NB101_OPS), size=n - 2)
        ops = ("input", *(NB101_OPS[int(i)] for i in middle), "output")
        return NB101Genotype(tuple(tuple(int(x) for x in row) for row in matrix), ops)


def sample_cells(count: int, seed: int) -> list[NB101Genotype]:
    """``count`` distinct cells (by canonical string), seeded.

    Raises:
        ValueError: ``count`` outside ``1 .. 400,000``.
    """
    if not 1 <= count <= 400_000:
        raise ConfigError(f"the number of sampled nb101 cells must be in 1..400000, got {count}")
    rng = np.random.default_rng(seed)
    seen: dict[str, NB101Genotype] = {}
    while len(seen) < count:
        cell = sample_cell(rng)
        seen.setdefault(str(cell), cell)
    return list(seen.values())


def training_source_tag(count: int = SAMPLE_SIZE, seed: int = SAMPLE_SEED) -> str:
    """The name of the sampled part of the training cells, as the pre-training cache key records it."""
    return f"nb101-sampled-{count}-seed{seed}-v1"


def nb101_training_cells(store: DataStore | None = None, *, count: int = SAMPLE_SIZE, seed: int = SAMPLE_SEED
                         ) -> tuple[Genotype, ...]:
    """The sampled cells, then NASLib's labelled NB101 cells not among them (genotypes only)."""
    from nasspace.benchmarks.subsets import SubsetTable

    cells: dict[str, Genotype] = {str(g): g for g in sample_cells(count, seed)}
    labelled: Sequence[Genotype] = SubsetTable("nb101", store=store).genotypes
    for genotype in labelled:
        cells.setdefault(str(genotype), genotype)
    return tuple(cells.values())


assert NB101_MAX_VERTICES == 1 + len(VERTEX_WEIGHTS)
