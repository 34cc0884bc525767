"""`SpaceAdapter`: everything space-specific that crlso's latent model needs, in one object.

An adapter names the `nasspace` space and gives its graph size bound (the encoder's position one-hot), its
decoder, its training cells (all of them where the space is enumerable, a seeded sample otherwise), the model
sizes it starts from, and a tag that keys the pre-trained VAE cache. Its benchmark tables come from
`nasspace.benchmarks.registry`. `generic_adapter` derives all of it for a space of choice rows
(`nasspace.choice.ChoiceSpace`, or any space with ``choice_sizes``/``to_choices``/``from_choices``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from nasspace import Genotype, SearchSpace, get_space

if TYPE_CHECKING:
    from crlso.models.decoder import GenotypeDecoder
    from nasspace.benchmarks.registry import TableSpec

__all__ = ["SpaceAdapter", "generic_adapter", "SAMPLED_CELLS", "ALL_CELLS_UP_TO", "sampled_cells"]

SAMPLED_CELLS = 10_000
"""Training cells of a space with more than `ALL_CELLS_UP_TO` genotypes: this many distinct samples of seed 0."""
ALL_CELLS_UP_TO = 50_000
"""A choice space of at most this many genotypes trains on all of them."""


@dataclass(frozen=True)
class SpaceAdapter:
    """What crlso's models need from one space.

    Attributes:
        name: the `nasspace` registry name.
        max_nodes: most nodes of one genotype's `ArchGraph`.
        training_cells: ``data_dir (None: default folder) -> genotypes`` the VAE trains on, in a fixed order.
        enumerated: whether the training cells are the whole space (then a search may need all of them encoded).
        codec: ``() -> `` the genotype as a row of choices (``choice_sizes``, ``to_choices``, ``from_choices``);
            None: the space itself is one.
        decoder: ``(latent_dim=, hidden=, num_blocks=) -> GenotypeDecoder``; None: the generic
            `crlso.models.choice_decoder.ChoiceDecoder` over the codec.
        model_overrides: `ModelConfig` fields that differ from its defaults for this space.
        cache_tag: what else the pre-trained VAE cache key must hold (e.g. the data files of the training cells).
        description: one line for ``crlso spaces``.
        pretrain_samples: seeded random genotypes, none of them a training cell, that the unlabelled pre-training
            adds to the training cells (`pretrain_extra`): a decoder that generalizes in a space too large to
            enumerate. Searches still move among the training cells only.
    """

    name: str
    max_nodes: int
    training_cells: Callable[[str | None], tuple[Genotype, ...]] = field(repr=False)
    enumerated: bool
    codec: Callable[[], Any] | None = field(default=None, repr=False)
    decoder: Callable[..., "GenotypeDecoder"] | None = field(default=None, repr=False)
    model_overrides: Mapping[str, Any] = field(default_factory=dict)
    cache_tag: tuple[str, ...] = ()
    description: str = ""
    pretrain_samples: int = 0

    @property
    def space(self) -> SearchSpace:
        return get_space(self.name)

    def choices(self) -> Any:
        """The row-of-choices view of the space's genotypes (the codec, or the space)."""
        return self.codec() if self.codec is not None else self.space

    def build_decoder(self, *, latent_dim: int, hidden: int, num_blocks: int, generic: bool = False) -> "GenotypeDecoder":
        """The space's decoder (``generic``: the `ChoiceDecoder` over its codec even where it has its own)."""
        if self.decoder is not None and not generic:
            return self.decoder(latent_dim=latent_dim, hidden=hidden, num_blocks=num_blocks)
        from crlso.models.choice_decoder import ChoiceDecoder

        return ChoiceDecoder(self.choices(), latent_dim=latent_dim, hidden=hidden, num_blocks=num_blocks)

    def pretrain_extra(self, cells: Sequence[Genotype]) -> tuple[Genotype, ...]:
        """``pretrain_samples`` distinct genotypes of seed 0 that are not among ``cells`` (the training cells)."""
        if not self.pretrain_samples:
            return ()
        taken = {str(g) for g in cells}
        drawn = sampled_cells(self.space, self.pretrain_samples + len(taken))
        return tuple(g for g in drawn if str(g) not in taken)[: self.pretrain_samples]

    def tables(self) -> list["TableSpec"]:
        """The registered benchmark tables of the space."""
        from nasspace.benchmarks.registry import list_table_specs

        return list_table_specs(self.name)


def sampled_cells(space: SearchSpace, count: int = SAMPLED_CELLS, seed: int = 0) -> tuple[Genotype, ...]:
    """``count`` distinct genotypes drawn with ``space.sample`` from one seeded generator, in draw order."""
    import numpy as np

    rng, cells = np.random.default_rng(seed), {}
    for _ in range(50 * count):
        genotype = space.sample(rng)
        cells.setdefault(str(genotype), genotype)
        if len(cells) == count:
            break
    return tuple(cells.values())


def _graph_nodes(space: Any) -> int:
    if hasattr(space, "max_graph_nodes"):
        return int(space.max_graph_nodes)
    return max(space.to_graph(space.sample(seed)).num_nodes for seed in range(64))


def generic_adapter(space: SearchSpace) -> SpaceAdapter:
    """The adapter of a choice space: `crlso.models.choice_decoder.ChoiceDecoder`, graphs from ``to_graph``,
    every cell as training cells up to `ALL_CELLS_UP_TO` cells, else `SAMPLED_CELLS` samples."""
    return _generic(space.name, _digest(space))


def _digest(space: Any) -> str:
    describe = getattr(space, "definition", None)
    text = describe() if callable(describe) else repr(space)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@lru_cache(maxsize=32)
def _generic(name: str, digest: str) -> SpaceAdapter:
    space = get_space(name)
    enumerable = bool(getattr(space, "is_enumerable", lambda: False)()) and space.num_cells <= ALL_CELLS_UP_TO

    def cells(data_dir: str | None) -> tuple[Genotype, ...]:
        return tuple(space.enumerate()) if enumerable else sampled_cells(space)

    return SpaceAdapter(name=name, max_nodes=_graph_nodes(space), training_cells=cells,
                        enumerated=enumerable, cache_tag=(f"space:{digest}",),
                        description=f"{type(space).__name__}, {len(space.choice_sizes)} choices")
