"""The NAS-Bench-Graph search space (Qin et al., NeurIPS 2022 Datasets and Benchmarks), registered as ``nbgraph``.

A genotype is a GNN of four computing nodes over one input. Its macro structure (``link``) says, for each
computing node ``i`` (1..4), which earlier node feeds it: ``0`` the input, ``j`` computing node ``j``. Of
the 4! possible link lists the benchmark keeps 9 patterns (the rest are relabellings of these):
``0000``, ``0001``, ``0011``, ``0012``, ``0013``, ``0111``, ``0112``, ``0122``, ``0123``. Each computing node
carries one of 9 operations: ``gat`` (2 heads), ``gcn``, ``gin``, ``cheb``, ``sage``, ``arma``, ``graph``
(k-GNN), ``fc`` (fully connected) and ``skip``. Every computing node that feeds no later node (a leaf) is
connected to the output.

The canonical string is the link pattern and the four ops joined by ``|``, e.g. ``0123|fc|gat|fc|gin``:
input -> fc -> gat -> fc -> gin -> output (the cell whose validation score is best on Cora), and
``0012|gcn|sage|fc|gin``: the input feeds gcn and sage, gcn feeds fc, sage feeds gin, and fc and gin
feed the output.

*Admissible* here means "an architecture the benchmark holds": the 26,206 keys of the package's tables.
The 9 * 9**4 = 59,049 rows of choices include relabellings of one another (e.g. ``0000|gcn|gat|...`` and
``0000|gat|gcn|...`` compute the same function), cells equal up to where their ``skip`` nodes sit, and the
all-skip cells; the benchmark trained one canonical representative per class (the package's
``Arch.valid_hash()`` is a fixed point on every key), so the space is exactly those rows. Sampling,
neighbours and enumeration stay inside the set, and `from_choices` maps any other row to the nearest
admissible one (fewest differing positions, the lowest hash on ties). The set is read, through the
restricted unpickler, from the package's ``cora.bench`` when the space object is built (on the first
``get_space("nbgraph")``); every dataset's table holds the same keys.

``canonical_hash`` is the package's key as a decimal string: link-pattern index, then each op's index in
base 10 (``hash = link * 10**4 + op1 * 10**3 + op2 * 10**2 + op3 * 10 + op4``); `from_hash` and `hash_of`
convert between that integer and a genotype.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from nasspace.choice import SEQUENCE, ChoiceGenotype, ChoiceSpace, Position
from nasspace.errors import DataError, GenotypeError
from nasspace.graph import ArchGraph
from nasspace.space import Genotype, register_space

__all__ = ["NBGRAPH_DATASETS", "LINK_PATTERNS", "LINK_NAMES", "GNN_OPS", "NBGraphSpace", "bench_file", "read_bench",
           "leaves"]

NBGRAPH_DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv")
"""The node-classification datasets whose tables share this space (the package's ``proteins`` uses other ops)."""

LINK_PATTERNS: tuple[tuple[int, int, int, int], ...] = (
    (0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 1), (0, 0, 1, 2), (0, 0, 1, 3),
    (0, 1, 1, 1), (0, 1, 1, 2), (0, 1, 2, 2), (0, 1, 2, 3),
)
"""Per pattern, the node feeding each computing node (0 the input, j computing node j), in hash order."""

LINK_NAMES = tuple("".join(map(str, pattern)) for pattern in LINK_PATTERNS)
GNN_OPS = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
"""The operations, in the package's order (an op's index is its hash digit)."""

_NODES = 4
_HASH_LIMIT = len(LINK_PATTERNS) * 10 ** _NODES
_INSTALL_HINT = "pip install nas-bench-graph"


def bench_file(dataset: str) -> Path:
    """The ``.bench`` file of ``dataset`` inside the installed ``nas_bench_graph`` package.

    Raises:
        DataError: the package or the file is missing (one line saying how to install it).
    """
    try:
        root = resources.files("nas_bench_graph")
    except ModuleNotFoundError:
        raise DataError(f"NAS-Bench-Graph tables need the nas_bench_graph package: {_INSTALL_HINT}") from None
    path = Path(str(root / "light" / f"{dataset}.bench"))
    if not path.is_file():
        raise DataError(f"NAS-Bench-Graph file {path} is missing; reinstall the package: {_INSTALL_HINT}")
    return path


def read_bench(dataset: str) -> dict[Any, Any]:
    """The package's ``hash -> record`` dict of ``dataset``, read with the restricted unpickler."""
    from nasspace.benchmarks.safe_pickle import load_restricted_pickle  # here: the benchmarks package imports spaces

    return load_restricted_pickle(bench_file(dataset))


def _row_of_hash(key: object) -> tuple[int, ...] | None:
    """The choice row of a package key, or None when the integer cannot be one."""
    if not isinstance(key, int) or isinstance(key, bool) or not 0 <= key < _HASH_LIMIT:
        return None
    link, ops = divmod(key, 10 ** _NODES)
    digits = tuple(int(c) for c in f"{ops:0{_NODES}d}")
    if any(d >= len(GNN_OPS) for d in digits):
        return None
    return (link, *digits)


def leaves(link: Sequence[int]) -> list[int]:
    """The computing nodes (1-based) that feed no later node: those the package connects to the output."""
    return [node for node in range(1, len(link) + 1) if node not in link]


@register_space("nbgraph")
class NBGraphSpace(ChoiceSpace):
    """The NAS-Bench-Graph space (see the module doc).

    Args:
        hashes: the admissible package keys; None reads them from the package's ``cora.bench``.

    Raises:
        DataError: the package is missing, or a key of its file is not a hash of this space.
    """

    name = "nbgraph"

    def __init__(self, hashes: Iterable[int] | None = None):
        source = "the given hashes"
        if hashes is None:
            source = str(bench_file("cora"))
            hashes = read_bench("cora").keys()
        rows = []
        for key in hashes:
            row = _row_of_hash(key)
            if row is None:
                raise DataError(f"{source}: key {key!r} is not a NAS-Bench-Graph hash "
                                f"(link*10^4 + four op digits 0..8)")
            rows.append(row)
        rows = sorted(set(rows))  # hash order: a row's tuple order is its key's order
        positions = [Position("link", LINK_NAMES), *(Position(f"op{i}", GNN_OPS) for i in range(1, _NODES + 1))]
        super().__init__("nbgraph", positions, layout=SEQUENCE, admissible=rows)
        self.ops = GNN_OPS
        self.graph_vocabulary = ("input", *GNN_OPS, "output")

    # -- the package's hash ---------------------------------------------------------------------
    def from_hash(self, key: int) -> ChoiceGenotype:
        """The genotype of a package key (``Arch(link, ops).hash_arch()``).

        Raises:
            GenotypeError: the integer is not a hash of the space, or names a cell the benchmark does not
                hold (a relabelling: canonicalize it with the package's ``Arch.valid_hash()`` first).
        """
        row = _row_of_hash(key)
        if row is None:
            raise GenotypeError(f"{key!r} is not a NAS-Bench-Graph hash: an int link*10^4 + four op digits 0..8, "
                                f"below {_HASH_LIMIT}")
        return self.from_choices(row, repair=False)

    def hash_of(self, genotype: Genotype) -> int:
        """The package key of a genotype: link-pattern index, then the op indices, in base 10."""
        value = 0
        for choice in self.to_choices(genotype):
            value = value * 10 + choice
        return value

    def canonical_hash(self, genotype: Genotype) -> str:
        """The package key as a decimal string (one per trained cell: the set holds one per relabelling class)."""
        return str(self.hash_of(genotype))

    def link_of(self, genotype: Genotype) -> tuple[int, ...]:
        """The node feeding each computing node (0 the input)."""
        return LINK_PATTERNS[self.to_choices(genotype)[0]]

    # -- structure ----------------------------------------------------------------------------------
    def to_graph(self, genotype: Genotype) -> ArchGraph:
        """The GNN as a DAG: node 0 the input, 1..4 the computing nodes (each fed by its link target), 5 the
        output, fed by every computing node that feeds no later node."""
        names = self.names(genotype)
        link = LINK_PATTERNS[self.to_choices(genotype)[0]]
        output = _NODES + 1
        edges = [(source, node) for node, source in enumerate(link, start=1)]
        edges += [(node, output) for node in leaves(link)]
        return ArchGraph(("input", *names[1:], "output"), tuple(sorted(edges)), self.graph_vocabulary)

    def __repr__(self) -> str:
        return f"NBGraphSpace({self.num_cells} genotypes)"
