import json
import re

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasspace import GenotypeError, genotype_from_json, get_space
from nasspace.darts import (
    DARTS_NASLIB_OPS,
    DARTS_OPS,
    DARTSGenotype,
    canonical_cell,
    cell_graph,
)
from tests.nasspace.known_genotypes import DARTS_V2

SPACE = get_space("darts")



@st.composite
def cells(draw, ops=DARTS_OPS):
    pairs = []
    for k in range(4):
        inputs = draw(st.lists(st.integers(0, k + 1), min_size=2, max_size=2, unique=True))
        pairs.extend((draw(st.sampled_from(ops)), i) for i in inputs)
    return tuple(pairs)


genotypes = st.builds(DARTSGenotype, cells(), cells())


def relabel(pairs, rng):
    """A random topological renumbering of the 4 nodes, with random pair order within nodes."""
    nodes = [pairs[2 * k : 2 * k + 2] for k in range(4)]
    placed, order = set(), []
    while len(order) < 4:
        ready = [k for k in range(4) if k not in placed and all(i < 2 or i - 2 in placed for _, i in nodes[k])]
        pick = ready[int(rng.integers(len(ready)))]
        placed.add(pick)
        order.append(pick)
    new = {old + 2: p + 2 for p, old in enumerate(order)}
    result = []
    for old in order:
        node = [(op, new.get(i, i)) for op, i in nodes[old]]
        result.extend(node[::-1] if rng.integers(2) else node)
    return tuple(result)


def cells_isomorphic(a, b) -> bool:
    def graph(pairs):
        labels, edges = cell_graph([pairs[2 * k : 2 * k + 2] for k in range(4)], "normal")
        g = nx.DiGraph()
        g.add_nodes_from((i, {"op": op}) for i, op in enumerate(labels))
        g.add_edges_from(edges)
        return g

    match = nx.algorithms.isomorphism.categorical_node_match("op", None)
    return nx.is_isomorphic(graph(a), graph(b), node_match=match)


def test_darts_v2_text_round_trip_and_spellings():
    g = SPACE.parse(DARTS_V2)
    assert str(g) == DARTS_V2
    assert g.normal[7] == ("dil_conv_3x3", 2) and g.reduce[0] == ("max_pool_3x3", 0)
    assert g.normal_concat == g.reduce_concat == (2, 3, 4, 5)
    other = DARTS_V2.replace("[2, 3, 4, 5]", "range(2, 6)").replace("'", '"').replace(", ", " ,\n\t ")
    assert SPACE.parse(f"\n  {other}  ") == g
    no_concat = re.sub(r",\s*(normal|reduce)_concat=\[2, 3, 4, 5\]", "", DARTS_V2)
    assert SPACE.parse(no_concat) == g
    as_lists = lambda pairs: "[" + ", ".join(f'["{op}", {i},]' for op, i in pairs) + ",]"  # noqa: E731
    lists = f"Genotype(reduce={as_lists(g.reduce)}, normal={as_lists(g.normal)}, reduce_concat=(2, 3, 4, 5),)"
    assert SPACE.parse(lists) == g


@pytest.mark.parametrize(
    "text, fragment",
    [
        (DARTS_V2.replace("('sep_conv_3x3', 0)", "('none', 0)", 1), "'none'.*position 18"),
        (DARTS_V2.replace("('sep_conv_3x3', 0)", "('conv_7x7', 0)", 1), "'conv_7x7'.* at position 18.*sep_conv_3x3"),
        (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 0)"), "node 5.*must differ"),
        (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"), "input 5 is out of range 0..4"),
        (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3, 4]"), "concat \\[2, 3, 4\\]"),
        (DARTS_V2.replace("reduce_concat", "reduction_concat"), "unknown keyword 'reduction_concat'"),
        (DARTS_V2 + " extra", "trailing text 'extra' at position"),
        (DARTS_V2[:-1], "end of the text"),
        (DARTS_V2.replace("'skip_connect', 0)", "'skip_connect, 0)", 1), "unterminated string|expected"),
        (DARTS_V2.replace("('sep_conv_3x3', 0), ", "", 1), "8 \\(op, input\\) pairs, got 7"),
        ("genotypes.DARTS_V2", "unexpected character '\\.' at position 9"),
        ("DARTS_V2", "'DARTS_V2' at position 0.*expected 'Genotype\\('"),
        ("Genotype(normal=[], normal=[])", "repeated keyword 'normal'"),
        ("Genotype(normal=[('sep_conv_3x3', 0)] reduce=[])", "'reduce' at position 38.*expected ',' or '\\)'"),
        ("Genotype(normal=[('sep_conv_3x3', 0.5)])", "unexpected character '\\.'"),
    ],
)
def test_parse_errors_name_the_problem(text, fragment):
    with pytest.raises(GenotypeError, match=fragment):
        SPACE.parse(text)


def test_invalid_fields_are_rejected():
    g = SPACE.parse(DARTS_V2)
    with pytest.raises(GenotypeError, match="'none'"):
        DARTSGenotype((("none", 0),) + g.normal[1:], g.reduce)
    with pytest.raises(GenotypeError, match="normal_concat"):
        SPACE.from_fields({**g.fields(), "normal_concat": [2, 3, 4]})
    with pytest.raises(GenotypeError, match="disagrees"):
        genotype_from_json({**g.to_json(), "string": DARTS_V2.replace("'dil_conv_3x3', 2", "'dil_conv_5x5', 2")})


@settings(max_examples=80, deadline=None)
@given(genotypes)
def test_round_trips_and_graph(g):
    assert SPACE.parse(str(g)) == g
    data = g.to_json()
    assert data["space"] == "darts" and data["string"] == str(g)
    assert genotype_from_json(json.loads(json.dumps(data))) == g
    assert SPACE.from_json({"space": "darts", "string": str(g)}) == g
    compact = SPACE.to_naslib(g)
    assert SPACE.from_naslib(compact) == g and SPACE.from_naslib(str(compact)) == g
    assert SPACE.from_naslib(str([list(cell) for cell in compact])) == g  # zc_nasbench301.json spelling
    graph = SPACE.to_graph(g)
    assert len(graph.ops) == 30 and graph.ops.count("add") == 8
    assert set(graph.ops) <= set(SPACE.graph_vocabulary) and graph.vocabulary == SPACE.graph_vocabulary
    nx_graph = graph.to_networkx()
    assert nx.is_directed_acyclic_graph(nx_graph) and nx.number_weakly_connected_components(nx_graph) == 2
    ops_in_graph = [op for op in graph.ops if op in DARTS_OPS]
    assert ops_in_graph == [op for op, _ in g.normal] + [op for op, _ in g.reduce]


@settings(max_examples=80, deadline=None)
@given(genotypes, st.integers(0, 2**32 - 1))
def test_hash_invariant_under_pair_order_and_node_relabelling(g, seed):
    rng = np.random.default_rng(seed)
    h = DARTSGenotype(relabel(g.normal, rng), relabel(g.reduce, rng))
    assert SPACE.canonical_hash(h) == SPACE.canonical_hash(g)
    # normal and reduce are not interchangeable
    if canonical_cell(g.nodes("normal")) != canonical_cell(g.nodes("reduce")):
        assert SPACE.canonical_hash(DARTSGenotype(g.reduce, g.normal)) != SPACE.canonical_hash(g)


@settings(max_examples=150, deadline=None)
@given(cells(ops=("skip_connect", "sep_conv_3x3")), cells(ops=("skip_connect", "sep_conv_3x3")), st.booleans(), st.integers(0, 99))
def test_canonical_cell_is_a_complete_invariant(a, b, related, seed):
    if related:  # b: a relabelled copy of a with at most one op changed
        b = relabel(a, np.random.default_rng(seed))
        if seed % 2:
            b = ((("skip_connect" if b[0][0] == "sep_conv_3x3" else "sep_conv_3x3"), b[0][1]),) + b[1:]
    nodes = lambda pairs: [pairs[2 * k : 2 * k + 2] for k in range(4)]  # noqa: E731
    assert (canonical_cell(nodes(a)) == canonical_cell(nodes(b))) == cells_isomorphic(a, b)


def test_hash_tells_apart_cells_that_differ_only_in_how_op_nodes_pair_up():
    # nodes 2 and 3 both feed only the output; swapping one input between them changes the cell
    base = (("sep_conv_3x3", 0), ("skip_connect", 1), ("max_pool_3x3", 0), ("avg_pool_3x3", 1))
    rest = (("sep_conv_5x5", 0), ("sep_conv_5x5", 1), ("dil_conv_3x3", 0), ("dil_conv_3x3", 1))
    a = DARTSGenotype(base + rest, base + rest)
    b = DARTSGenotype((base[0], base[3], base[2], base[1]) + rest, base + rest)
    assert SPACE.canonical_hash(a) != SPACE.canonical_hash(b)
    assert not nx.is_isomorphic(
        SPACE.to_graph(a).to_networkx(),
        SPACE.to_graph(b).to_networkx(),
        node_match=nx.algorithms.isomorphism.categorical_node_match("op", None),
    )


def test_sample_is_seeded():
    assert [SPACE.sample(s) for s in range(10)] == [SPACE.sample(s) for s in range(10)]
    assert len({SPACE.sample(s) for s in range(10)}) == 10
    assert SPACE.sample(np.random.default_rng(3)) == SPACE.sample(3)


@settings(max_examples=25, deadline=None)
@given(genotypes)
def test_neighbors_are_valid_distinct_and_one_edit_away(g):
    options = SPACE.neighbors(g)
    assert options == SPACE.neighbors(g) and len(set(options)) == len(options) and g not in options
    for h in options:
        changed = [(a, b) for a, b in zip(g.normal + g.reduce, h.normal + h.reduce) if a != b]
        assert len(changed) == 1
        (old_op, old_in), (new_op, new_in) = changed[0]
        assert (old_op == new_op) != (old_in == new_in)
    # 16 pairs x 6 other ops, plus every other valid input of every pair
    inputs = sum(max(0, p // 2 + 2 - 2) for p in range(8)) * 2
    assert len(options) == 16 * 6 + inputs
    assert SPACE.mutate(g, rng=0) in options


@settings(max_examples=300)
@given(st.text(alphabet="Genotype(normal_concat=reduce[]),' \"0123456789sep_conv_3x5skipdilmaxavgnone-", max_size=200))
def test_fuzz_parsers_only_raise_genotype_error(text):
    for parse in (SPACE.parse, SPACE.from_naslib):
        try:
            parse(text)
        except GenotypeError:
            pass


@settings(max_examples=200)
@given(st.sampled_from([DARTS_V2, str(SPACE.to_naslib(SPACE.parse(DARTS_V2)))]), st.integers(0, 400), st.text(max_size=3))
def test_fuzz_mutated_strings_only_raise_genotype_error(text, cut, insert):
    mutated = text[:cut] + insert + text[cut + len(insert) :]
    for parse in (SPACE.parse, SPACE.from_naslib):
        try:
            parse(mutated)
        except GenotypeError:
            pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 8) | st.text(max_size=12) | st.sampled_from(DARTS_OPS),
    lambda c: st.lists(c, max_size=9) | st.dictionaries(st.sampled_from(["normal", "reduce", "normal_concat"]), c, max_size=3),
    max_leaves=40,
)


@settings(max_examples=200)
@given(json_values, json_values)
def test_fuzz_from_json_only_raises_genotype_error(a, b):
    for candidate in (a, {"space": "darts", "normal": a, "reduce": b}, {"space": "darts", "string": a}):
        try:
            genotype_from_json(candidate)
        except GenotypeError:
            pass
    try:
        SPACE.from_naslib(a)
    except GenotypeError:
        pass


def _naslib_keys(data_store):
    zc = json.loads(data_store.path("naslib-zc-nb301").read_text())["nasbench301"]["cifar10"]
    return list(zc) + list(json.loads(data_store.path("naslib-archs-nb301").read_text()).values())


def test_every_naslib_nb301_entry_is_a_valid_genotype(data_store):
    keys = _naslib_keys(data_store)
    genotypes = set()
    for key in keys:
        g = SPACE.from_naslib(key)  # raises on any op code outside 0..6 or invalid input
        numbers = [int(x) for x in re.findall(r"\d+", key)]
        assert [x for cell in SPACE.to_naslib(g) for pair in cell for x in pair] == numbers
        genotypes.add(g)
    assert len(keys) in (500, 11221, 11721)
    hashes = {SPACE.canonical_hash(g) for g in genotypes}
    assert len(hashes) == len(genotypes)  # no two distinct entries are isomorphic copies


def test_naslib_op_codes_match_the_zc_files_parameter_counts(data_store):
    """Parameters in zc_nasbench301.json are linear in per-op counts, with the sizes of these ops.

    DARTS network: 8 cells, C = 32, reductions at 2 and 5; normal cells at C = 32, 32, 64, 64, 128,
    128, reduction cells at 64 and 128. A separable conv k x k adds 2 (C^2 + k^2 C), a dilated conv
    C^2 + k^2 C, a skip in a reduction cell (stride 2) C^2, pools and a stride-1 skip nothing
    (this file counts no batch-norm weights inside the ops). Max and average pooling, both free,
    cannot be told apart this way.
    """
    table = json.loads(data_store.path("naslib-zc-nb301").read_text())["nasbench301"]["cifar10"]
    rows, params = [], []
    for key, row in table.items():
        g = SPACE.from_naslib(key)
        features = np.zeros(3 * 7 + 1)
        features[-1] = 1
        for op, _ in g.normal:
            features[DARTS_OPS.index(op)] += 1
        for op, i in g.reduce:
            features[(14 if i < 2 else 7) + DARTS_OPS.index(op)] += 1
        rows.append(features)
        params.append(row["params"] * 1e6)
    coef, *_ = np.linalg.lstsq(np.array(rows), np.array(params), rcond=None)
    assert np.abs(np.array(rows) @ coef - params).max() < 1e-3

    def size(op, cs, stride2=False):
        k = {"3x3": 9, "5x5": 25}.get(op[-3:], 0)
        if op.startswith("sep"):
            return sum(2 * (c * c + k * c) for c in cs)
        if op.startswith("dil"):
            return sum(c * c + k * c for c in cs)
        return sum(c * c for c in cs) if op == "skip_connect" and stride2 else 0

    normal_cs, reduce_cs = [32, 32, 64, 64, 128, 128], [64, 128]
    for code, op in enumerate(DARTS_NASLIB_OPS):
        assert coef[code] - coef[0] == pytest.approx(size(op, normal_cs), abs=1e-3)
        assert coef[7 + code] - coef[7] == pytest.approx(size(op, reduce_cs), abs=1e-3)
        assert coef[14 + code] - coef[14] == pytest.approx(size(op, reduce_cs, stride2=True), abs=1e-3)
