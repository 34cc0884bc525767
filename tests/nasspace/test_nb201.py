import json

import networkx as nx  # imported here: nasspace imports it lazily, and its first import would count in a deadline

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasspace import GenotypeError, genotype_from_json, get_space
from nasspace.nb201 import NB201_EDGES, NB201_OPS, NB201Genotype

SPACE = get_space("nb201")
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
op_lists = st.lists(st.sampled_from(NB201_OPS), min_size=6, max_size=6).map(tuple)


def test_parse_and_string_round_trip():
    g = SPACE.parse(BEST)
    assert str(g) == BEST
    assert g.ops == ("nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_3x3", "nor_conv_1x1")
    assert SPACE.parse(f"  {BEST}\n") == g


@given(op_lists)
def test_round_trips(ops):
    g = NB201Genotype(ops)
    assert SPACE.parse(str(g)) == g
    data = g.to_json()
    assert data["space"] == "nb201" and data["format_version"] == 1 and data["string"] == str(g)
    assert genotype_from_json(json.loads(json.dumps(data))) == g
    assert SPACE.from_json({"space": "nb201", "string": str(g)}) == g
    assert SPACE.from_op_indices(g.op_indices) == g
    graph = SPACE.to_graph(g)
    assert graph.ops[1:-1] == ops
    nx_graph = graph.to_networkx()
    assert nx.is_directed_acyclic_graph(nx_graph) and nx_graph.number_of_nodes() == 8


def test_from_json_checks_string_against_fields():
    data = SPACE.parse(BEST).to_json()
    data["string"] = BEST.replace("nor_conv_1x1~2", "none~2")
    with pytest.raises(GenotypeError, match="disagrees"):
        genotype_from_json(data)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("|nor_conv_3x3~0|+|none~0|none~1|", "3 '\\+'-separated"),
        ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv'.*valid ops"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "must name input 0"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "must hold 2"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "start and end"),
        ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "lacks '~'"),
    ],
)
def test_parse_errors_name_the_problem(text, fragment):
    with pytest.raises(GenotypeError, match=fragment):
        SPACE.parse(text)


@settings(max_examples=300)
@given(st.text(alphabet="|+~0123abcdefghijklmnopqrstuvwxyz_ ", max_size=120))
def test_fuzz_parse_only_raises_genotype_error(text):
    try:
        SPACE.parse(text)
    except GenotypeError:
        pass


@settings(max_examples=200)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20), lambda c: st.lists(c) | st.dictionaries(st.text(max_size=8), c), max_leaves=8))
def test_fuzz_from_json_only_raises_genotype_error(data):
    for candidate in (data, {"space": "nb201", "ops": data}, {"space": "nb201", "string": data}):
        try:
            genotype_from_json(candidate)
        except GenotypeError:
            pass


def test_enumerate_sample_neighbors():
    cells = list(SPACE.enumerate())
    assert len(cells) == 15625 == len(set(cells))
    assert SPACE.sample(7) == SPACE.sample(7)
    assert len({SPACE.sample(s) for s in range(50)}) > 40
    g = SPACE.parse(BEST)
    neighbors = SPACE.neighbors(g)
    assert len(neighbors) == 24 == len(set(neighbors)) and g not in neighbors
    assert all(sum(a != b for a, b in zip(n.ops, g.ops)) == 1 for n in neighbors)
    assert SPACE.mutate(g, 3) in neighbors


@given(op_lists)
def test_hash_invariant_under_swapping_independent_nodes(ops):
    # With no edge 1->2, intermediate nodes 1 and 2 are interchangeable: relabel them.
    ops = ops[:2] + ("none",) + ops[3:]
    swapped = (ops[1], ops[0], "none", ops[3], ops[5], ops[4])
    assert SPACE.canonical_hash(NB201Genotype(ops)) == SPACE.canonical_hash(NB201Genotype(swapped))


@given(op_lists)
def test_hash_ignores_dead_branches(ops):
    # Whatever feeds node 1 is irrelevant when node 1 feeds nothing.
    dead = ("avg_pool_3x3", ops[1], "none", ops[3], "none", ops[5])
    alive = ("nor_conv_3x3", ops[1], "none", ops[3], "none", ops[5])
    assert SPACE.canonical_hash(NB201Genotype(dead)) == SPACE.canonical_hash(NB201Genotype(alive))


def test_hash_distinguishes_different_computations():
    a = SPACE.parse("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|")
    b = SPACE.parse("|nor_conv_1x1~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|")
    assert SPACE.canonical_hash(a) != SPACE.canonical_hash(b)


def test_isomorphism_classes_against_the_benchmark_file(data_store):
    import csv

    with open(data_store.path("nb201-test"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    official, functional = {}, {}
    for row in rows:
        g = SPACE.parse(row["ArchitectureString"])
        assert SPACE.official_unique_string(g) == row["UniqueString"]
        official.setdefault(row["UniqueString"], set()).add(SPACE.canonical_hash(g))
        functional.setdefault(SPACE.canonical_hash(g), None)
    assert len(rows) == 15625
    assert len(official) == 6466
    # The functional hash merges whole official classes, never splits one.
    assert all(len(hashes) == 1 for hashes in official.values())
    assert len(functional) == 4930


def test_naslib_codes():
    g = SPACE.from_naslib((2, 2, 0, 2, 2, 3))  # NASLib's edge order: (1,2) (1,3) (1,4) (2,3) (2,4) (3,4), 1-based
    assert str(g) == BEST
    assert SPACE.to_naslib(g) == (2, 2, 0, 2, 2, 3)
    for cell in list(SPACE.enumerate())[::97]:
        assert SPACE.from_naslib(SPACE.to_naslib(cell)) == cell
    with pytest.raises(GenotypeError, match="out of range"):
        SPACE.from_naslib((9, 0, 0, 0, 0, 0))
    assert len(NB201_EDGES) == 6
