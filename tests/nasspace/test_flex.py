import json

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasspace import GenotypeError, genotype_from_json, get_space
from nasspace.darts import canonical_cell, cell_graph
from nasspace.flex import (
    DEFAULT_LAYOUT,
    DNAD_OPS,
    FLEX_OPS,
    FlexCell,
    FlexGenotype,
    reduction_layout,
)
from tests.nasspace.known_genotypes import DARTS_V2

SPACE = get_space("flex")
DARTS = get_space("darts")


@st.composite
def flex_nodes(draw, ops=FLEX_OPS, max_k=4, max_pairs=3):
    k = draw(st.integers(1, max_k))
    nodes = []
    for j in range(k):
        candidates = [(op, i) for i in range(j + 2) for op in ops]
        nodes.append(tuple(draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=max_pairs, unique=True))))
    return tuple(nodes)


flex_cells = st.builds(FlexCell, st.sampled_from(["normal", "reduce"]), flex_nodes())
genotypes = st.lists(flex_cells, min_size=1, max_size=4).map(lambda cells: FlexGenotype(tuple(cells)))


def relabel(nodes, rng):
    """A random topological renumbering of a cell's nodes, pairs shuffled within each node."""
    k = len(nodes)
    placed, order = set(), []
    while len(order) < k:
        ready = [v for v in range(k) if v not in placed and all(i < 2 or i - 2 in placed for _, i in nodes[v])]
        pick = ready[int(rng.integers(len(ready)))]
        placed.add(pick)
        order.append(pick)
    new = {old + 2: p + 2 for p, old in enumerate(order)}
    shuffled = [[nodes[v][m] for m in rng.permutation(len(nodes[v]))] for v in order]
    return tuple(tuple((op, new.get(i, i)) for op, i in node) for node in shuffled)


def isomorphic(a, b) -> bool:
    def graph(nodes):
        labels, edges = cell_graph(nodes, "normal")
        g = nx.DiGraph()
        g.add_nodes_from((i, {"op": op}) for i, op in enumerate(labels))
        g.add_edges_from(edges)
        return g

    match = nx.algorithms.isomorphism.categorical_node_match("op", None)
    return nx.is_isomorphic(graph(a), graph(b), node_match=match)


def test_canonical_string_is_compact_sorted_json():
    g = FlexGenotype((FlexCell("normal", ((("skip_connect", 1), ("sep_conv_3x3", 0)),)),))
    assert str(g) == '{"cells":[{"nodes":[[["skip_connect",1],["sep_conv_3x3",0]]],"type":"normal"}]}'
    spaced = '{ "cells": [ { "type": "normal", "nodes": [ [ ["skip_connect", 1], ["sep_conv_3x3", 0] ] ] } ] }'
    assert SPACE.parse(spaced) == g and SPACE.parse(str(g)) == g
    assert g.cells[0].k == 1 and g.layout == ("normal",)


def test_layouts():
    assert DEFAULT_LAYOUT == reduction_layout(8)
    assert [i for i, t in enumerate(DEFAULT_LAYOUT) if t == "reduce"] == [2, 5]
    assert [i for i, t in enumerate(reduction_layout(20)) if t == "reduce"] == [6, 13]
    with pytest.raises(GenotypeError):
        reduction_layout(2)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('{"cells":[{"nodes":[[["none",0]]],"type":"normal"}]}', "'none' never appears"),
        ('{"cells":[{"nodes":[[["conv_9x9",0]]],"type":"normal"}]}', "unknown op 'conv_9x9'.*valid ops"),
        ('{"cells":[{"nodes":[[["skip_connect",2]]],"type":"normal"}]}', "node 2 pair 0: input must be an integer 0..1"),
        ('{"cells":[{"nodes":[[["skip_connect",0],["skip_connect",0]]],"type":"normal"}]}', "repeated"),
        ('{"cells":[{"nodes":[[]],"type":"normal"}]}', "non-empty list of \\[op, input\\] pairs"),
        ('{"cells":[{"nodes":[[["skip_connect",0]]],"type":"stem"}]}', "unknown cell type 'stem'"),
        ('{"cells":[{"nodes":[[["skip_connect",true]]],"type":"normal"}]}', "input must be an integer"),
        ('{"cells":[]}', "non-empty list"),
        ("[1, 2]", "JSON object"),
        ("{'cells': []}", "JSON like"),
        ("[" * 100000, "JSON like"),
    ],
)
def test_parse_errors_name_the_problem(text, fragment):
    with pytest.raises(GenotypeError, match=fragment):
        SPACE.parse(text)


@settings(max_examples=80, deadline=None)
@given(genotypes)
def test_round_trips_and_graph(g):
    assert SPACE.parse(str(g)) == g and str(SPACE.parse(str(g))) == str(g)
    data = g.to_json()
    assert data["space"] == "flex" and data["string"] == str(g)
    assert genotype_from_json(json.loads(json.dumps(data))) == g
    assert SPACE.from_json({"space": "flex", "string": str(g)}) == g
    graph = SPACE.to_graph(g)
    pairs = sum(len(node) for cell in g.cells for node in cell.nodes)
    nodes = sum(cell.k for cell in g.cells)
    assert len(graph.ops) == 2 + sum(3 + cell.k for cell in g.cells) + pairs
    assert graph.ops.count("add") == nodes and graph.ops[0] == "stem" and graph.ops[-1] == "output"
    nx_graph = graph.to_networkx()
    assert nx.is_directed_acyclic_graph(nx_graph) and nx.is_weakly_connected(nx_graph)
    assert nx.has_path(nx_graph, 0, len(graph.ops) - 1)


@settings(max_examples=80, deadline=None)
@given(genotypes, st.integers(0, 2**32 - 1))
def test_hash_ignores_pair_order_and_node_relabelling(g, seed):
    rng = np.random.default_rng(seed)
    h = FlexGenotype(tuple(FlexCell(c.cell_type, relabel(c.nodes, rng)) for c in g.cells))
    assert SPACE.canonical_hash(h) == SPACE.canonical_hash(g)


@settings(max_examples=150, deadline=None)
@given(flex_nodes(ops=DNAD_OPS[:2]), flex_nodes(ops=DNAD_OPS[:2]), st.booleans(), st.integers(0, 99))
def test_canonical_cell_is_a_complete_invariant(a, b, related, seed):
    if related:
        b = relabel(a, np.random.default_rng(seed))
        if seed % 2 and len(b[-1]) > 1:
            b = b[:-1] + (b[-1][1:],)
    assert (canonical_cell(a) == canonical_cell(b)) == isomorphic(a, b)


def test_darts_conversion():
    d = DARTS.parse(DARTS_V2)
    g = SPACE.from_darts(d)
    assert g.layout == DEFAULT_LAYOUT and len(g.cells) == 8
    assert all(cell.k == 4 and all(len(node) == 2 for node in cell.nodes) for cell in g.cells)
    assert SPACE.to_darts(g) == d
    assert SPACE.to_darts(SPACE.from_darts(d, ["reduce", "normal"])) == d
    # pair order within a node does not make normal cells differ
    cells = list(g.cells)
    cells[3] = FlexCell("normal", tuple(node[::-1] for node in cells[3].nodes))
    assert SPACE.to_darts(FlexGenotype(tuple(cells))) == d
    with pytest.raises(GenotypeError, match="unknown cell type 'stem'"):
        SPACE.from_darts(d, ["normal", "stem"])


def _edited(g, position, node_index, node):
    cells = list(g.cells)
    nodes = list(cells[position].nodes)
    nodes[node_index] = node
    cells[position] = FlexCell(cells[position].cell_type, tuple(nodes))
    return FlexGenotype(tuple(cells))


def test_to_darts_names_the_failing_rule():
    g = SPACE.from_darts(DARTS.parse(DARTS_V2))
    three_nodes = FlexGenotype((FlexCell("normal", g.cells[0].nodes[:3]),) + g.cells[1:])
    cases = [
        (three_nodes, "cell 0 has 3 nodes"),
        (_edited(g, 1, 0, g.cells[1].nodes[0] + (("skip_connect", 0),)), "cell 1 node 2 keeps 3 pairs"),
        (_edited(g, 0, 1, (("skip_connect", 0),)), "cell 0 node 3 keeps 1 pairs"),
        (_edited(g, 0, 0, (("skip_connect", 0), ("sep_conv_3x3", 0))), "cell 0 node 2 reads input 0 twice"),
        (_edited(g, 6, 0, (("skip_connect", 0), ("sep_conv_3x3", 1))), "normal cell 6 differs"),
        (_edited(g, 5, 0, (("skip_connect", 0), ("sep_conv_3x3", 1))), "reduce cell 5 differs"),
        (FlexGenotype(tuple(c for c in g.cells if c.cell_type == "normal")), "no reduce cell"),
    ]
    for genotype, fragment in cases:
        with pytest.raises(GenotypeError, match=fragment):
            SPACE.to_darts(genotype)


def test_sample_is_seeded_and_follows_its_parameters():
    assert [SPACE.sample(s) for s in range(5)] == [SPACE.sample(s) for s in range(5)]
    g = SPACE.sample(0)
    assert g.layout == DEFAULT_LAYOUT and all(c.k == 4 for c in g.cells)
    assert all(1 <= len(node) <= 3 for c in g.cells for node in c.nodes)
    h = SPACE.sample(1, layout=("normal", "reduce", "normal"), k=6, max_pairs=5, ops=DNAD_OPS)
    assert h.layout == ("normal", "reduce", "normal") and all(c.k == 6 for c in h.cells)
    assert {op for c in h.cells for node in c.nodes for op, _ in node} <= set(DNAD_OPS)
    assert len({SPACE.sample(s) for s in range(10)}) == 10
    with pytest.raises(GenotypeError):
        SPACE.sample(0, ops=("none",))


@settings(max_examples=20, deadline=None)
@given(genotypes)
def test_neighbors_are_valid_distinct_and_one_edit_away(g):
    options = SPACE.neighbors(g)
    assert options == SPACE.neighbors(g) and len(set(options)) == len(options) and g not in options
    expected = 0
    for cell in g.cells:
        for j, node in enumerate(cell.nodes):
            inputs = {i for _, i in node}
            expected += len(FLEX_OPS) * (j + 2) - len(node)  # additions
            expected += len(node) if len(node) > 1 else 0  # removals
            expected += sum(len(FLEX_OPS) - sum(1 for _, i2 in node if i2 == i) for _, i in node)  # op changes
            assert inputs
    assert len(options) == expected
    for h in options:
        assert h.layout == g.layout
        diffs = [(a, b) for a, b in zip(g.cells, h.cells) if a != b]
        assert len(diffs) == 1
        (a, b), = diffs
        assert sum(x != y for x, y in zip(a.nodes, b.nodes)) == 1
    assert SPACE.mutate(g, rng=0) in options


@settings(max_examples=300)
@given(st.text(alphabet='{}[]",:0123 cellsnodestypenormalreduceskip_connectsep_conv_3x3none', max_size=150))
def test_fuzz_parse_only_raises_genotype_error(text):
    try:
        SPACE.parse(text)
    except GenotypeError:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 6) | st.floats(allow_nan=False) | st.sampled_from(["normal", "reduce", *FLEX_OPS]),
    lambda c: st.lists(c, max_size=6) | st.dictionaries(st.sampled_from(["cells", "type", "nodes"]), c, max_size=3),
    max_leaves=40,
)


@settings(max_examples=200)
@given(json_values)
def test_fuzz_from_json_only_raises_genotype_error(value):
    for candidate in (value, {"space": "flex", "cells": value}, {"space": "flex", "string": json.dumps(value)}):
        try:
            genotype_from_json(candidate)
        except GenotypeError:
            pass
