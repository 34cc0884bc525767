"""What the ranking model needs to know about a search space, one registry entry per space.

A `RankSpace` names, for one space:

- ``model_config``: the model sizes its graph VAE is built with (`crlso.models.config.build_vae` reads
  the space's featurizer and decoder from them);
- ``parse``: a genotype from its canonical string (what checkpoints and output files hold);
- ``graph_view``: the cells as the GNN predictors see them (NB201: dead edges pruned to ``none``,
  the same function; other spaces: as written);
- ``cell_features``: ``(N, F)`` genotype-only features of the cell-feature forest;
- ``one_hot``: ``(N, F')`` the plain one-hot encoding of the baseline forest;
- ``featurizer`` (optional): the `crlso.models.graphs.GraphFeaturizer` of its graphs (default:
  `crlso.models.graphs.featurizer_for`). A space without a VAE decoder trains with ``--no-warm-start``.

``nb201``, ``darts`` and ``nb101`` are built in; any space of choice rows (TransNAS micro, NAS-Bench-Graph, a
user's space) gets `choice_rank_space`; another space plugs in with `register_rank_space`. Nothing here reads a
label.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from nasspace import Genotype
from nasspace.space import get_space, parse_genotype
from crlso.errors import ConfigError

__all__ = ["RankSpace", "register_rank_space", "rank_space", "rank_space_names", "darts_cell_features", "darts_one_hot",
           "choice_one_hot", "choice_cell_features", "choice_rank_space"]


@dataclass(frozen=True)
class RankSpace:
    """The featurization of one space for the ranking model (see the module doc)."""

    name: str
    model_config: Callable[[], object]
    graph_view: Callable[[Sequence[Genotype]], list[Genotype]]
    cell_features: Callable[[Sequence[Genotype]], np.ndarray]
    one_hot: Callable[[Sequence[Genotype]], np.ndarray]
    featurizer: Callable[[], object] | None = None

    def graph_featurizer(self):
        """The `GraphFeaturizer` of this space's graphs."""
        from crlso.models.graphs import featurizer_for

        return self.featurizer() if self.featurizer is not None else featurizer_for(self.name)

    def parse(self, text: str) -> Genotype:
        """The genotype of a canonical string of this space."""
        return parse_genotype(text, self.name)


_REGISTRY: dict[str, RankSpace] = {}


def register_rank_space(space: RankSpace) -> RankSpace:
    """Add (or replace) the ranking featurization of ``space.name``."""
    _REGISTRY[space.name] = space
    return space


def rank_space_names() -> list[str]:
    """The spaces with a ranking featurization (registered, or rows of choices), sorted."""
    return sorted(set(_REGISTRY) | set(_choice_spaces()))


def _choice_spaces() -> list[str]:
    from nasspace import get_space, list_spaces

    return [name for name in list_spaces() if hasattr(get_space(name), "choice_sizes")]


def choice_one_hot(name: str, cells: Sequence[Genotype]) -> np.ndarray:
    """``(N, sum(choice_sizes))`` one-hot of each cell's row of choices (the space's or its adapter's codec)."""
    from crlso.models.spaces import get_adapter

    codec = get_adapter(name).choices()
    offsets = np.concatenate([[0], np.cumsum(codec.choice_sizes)[:-1]])
    rows = np.asarray([codec.to_choices(g) for g in cells], dtype=np.int64).reshape(len(cells), -1)
    out = np.zeros((len(cells), int(sum(codec.choice_sizes))), dtype=np.float32)
    out[np.arange(len(cells))[:, None], offsets + rows] = 1.0
    return out


def choice_cell_features(name: str, cells: Sequence[Genotype]) -> np.ndarray:
    """The one-hot of `choice_one_hot`, then how often each graph node label occurs in the cell."""
    space = get_space(name)
    vocabulary = list(space.graph_vocabulary)  # type: ignore[attr-defined]
    counts = np.zeros((len(cells), len(vocabulary)), dtype=np.float32)
    for row, genotype in enumerate(cells):
        for label in space.to_graph(genotype).ops:
            counts[row, vocabulary.index(label)] += 1
    return np.concatenate([choice_one_hot(name, cells), counts], axis=1)


def choice_rank_space(name: str) -> RankSpace:
    """The ranking featurization of a space of choice rows: graphs as written, `choice_cell_features` for the cell
    forest, `choice_one_hot` for the baseline forest."""
    return RankSpace(name, _default_model(name), list, lambda cells: choice_cell_features(name, cells),
                     lambda cells: choice_one_hot(name, cells))


def rank_space(name: str) -> RankSpace:
    """The registered `RankSpace` of ``name``.

    Raises:
        ValueError: no space of that name is registered; lists those that are.
    """
    if name not in _REGISTRY:
        from nasspace import get_space

        if hasattr(get_space(name), "choice_sizes"):
            return choice_rank_space(name)
        raise ConfigError(f"no ranking model for space {name!r}; valid: {', '.join(rank_space_names())}")
    return _REGISTRY[name]


# -- nb201 ----------------------------------------------------------------------------------------
def _nb201_ops(cells: Sequence[Genotype]) -> np.ndarray:
    return np.asarray([g.op_indices for g in cells], dtype=np.int64).reshape(len(cells), 6)


def _nb201_pruned(cells: Sequence[Genotype]) -> list[Genotype]:
    from crlso.models.cell_features import prune_dead_edges

    space = get_space("nb201")
    return [space.from_op_indices([int(o) for o in row]) for row in prune_dead_edges(_nb201_ops(cells))]


def _nb201_features(cells: Sequence[Genotype]) -> np.ndarray:
    from crlso.models.cell_features import nb201_cell_features

    return nb201_cell_features(_nb201_ops(cells)).astype(np.float32)


def _nb201_one_hot(cells: Sequence[Genotype]) -> np.ndarray:
    ops = _nb201_ops(cells)
    out = np.zeros((len(cells), 30), dtype=np.float32)
    out[np.arange(len(cells))[:, None], np.arange(6) * 5 + ops] = 1.0
    return out


def _default_model(space: str) -> Callable[[], object]:
    def build() -> object:
        from crlso.models.config import default_model_config

        return default_model_config(space)

    return build


register_rank_space(RankSpace("nb201", _default_model("nb201"), _nb201_pruned, _nb201_features, _nb201_one_hot))


# -- darts ----------------------------------------------------------------------------------------
_DARTS_CELLS = ("normal", "reduce")


def darts_cell_features(cells: Sequence[Genotype]) -> np.ndarray:
    """``(N, 2 * (98 + 7 + 3))`` order-free features of DARTS genotypes, per cell type:

    - ``98``: for each intermediate node ``k`` (0..3) and input ``i < k + 2``, the count of each of
      the 7 ops on an edge ``i -> k`` (the two pairs of a node are unordered, so this count is the
      node exactly);
    - ``7``: the count of each op in the cell;
    - ``3``: depth of the deepest node (inputs at 0), nodes fed by another node, edges from the inputs.
    """
    from nasspace.darts import DARTS_OPS, NUM_NODES

    ops = len(DARTS_OPS)
    offsets = np.cumsum([0] + [(k + 2) * ops for k in range(NUM_NODES)])
    width = int(offsets[-1]) + ops + 3
    out = np.zeros((len(cells), len(_DARTS_CELLS) * width), dtype=np.float32)
    for row, genotype in enumerate(cells):
        for c, cell_type in enumerate(_DARTS_CELLS):
            base = c * width
            depth = [0, 0]
            for k, node in enumerate(genotype.nodes(cell_type)):  # type: ignore[attr-defined]
                for op, source in node:
                    o = DARTS_OPS.index(op)
                    out[row, base + offsets[k] + source * ops + o] += 1
                    out[row, base + int(offsets[-1]) + o] += 1
                depth.append(1 + max(depth[source] for _, source in node))
                out[row, base + width - 2] += any(source >= 2 for _, source in node)
                out[row, base + width - 1] += sum(source < 2 for _, source in node)
            out[row, base + width - 3] = max(depth)
    return out


def darts_one_hot(cells: Sequence[Genotype]) -> np.ndarray:
    """``(N, 16 * (7 + 5))``: one-hot of the op and of the input of each of the 16 pairs, as written."""
    from nasspace.darts import DARTS_OPS

    ops, inputs = len(DARTS_OPS), 5
    out = np.zeros((len(cells), 16 * (ops + inputs)), dtype=np.float32)
    for row, genotype in enumerate(cells):
        pairs = [*genotype.normal, *genotype.reduce]  # type: ignore[attr-defined]
        for slot, (op, source) in enumerate(pairs):
            out[row, slot * (ops + inputs) + DARTS_OPS.index(op)] = 1.0
            out[row, slot * (ops + inputs) + ops + source] = 1.0
    return out


register_rank_space(RankSpace("darts", _default_model("darts"), list, darts_cell_features, darts_one_hot))


# -- nb101 ----------------------------------------------------------------------------------------
def _nb101_features(cells: Sequence[Genotype]) -> np.ndarray:
    from crlso.models.nb101.features import cell_features

    return cell_features(cells).astype(np.float32)


def _nb101_one_hot(cells: Sequence[Genotype]) -> np.ndarray:
    from crlso.models.nb101.features import one_hot_encoding

    return one_hot_encoding(cells).astype(np.float32)


# NB101 cells are pruned by construction, so the graph view is the cell itself
register_rank_space(RankSpace("nb101", _default_model("nb101"), list, _nb101_features, _nb101_one_hot))
