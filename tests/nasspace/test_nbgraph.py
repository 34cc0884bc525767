"""NAS-Bench-Graph: the restricted unpickler, the ``nbgraph`` space and its eight tables."""

import os
import pickle
import pickletools

import numpy as np
import pytest

from nasspace.benchmarks.safe_pickle import NUMPY_SCALAR_GLOBALS, load_restricted_pickle
from nasspace.errors import DataError, GenotypeError
from nasspace.nbgraph import GNN_OPS, LINK_NAMES, LINK_PATTERNS, NBGRAPH_DATASETS, NBGraphSpace, bench_file, read_bench
from nasspace.space import genotype_from_json, get_space

pytest.importorskip("nas_bench_graph", reason="pip install nas-bench-graph")

import nasspace.benchmarks.nbgraph as nbg  # noqa: E402  registers the tables
from nasspace.benchmarks.registry import list_table_specs, load_table  # noqa: E402

SPACE = get_space("nbgraph")


# -- the restricted unpickler ----------------------------------------------------------------------------
class _Shell:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _Exec:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


class _Eval:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return eval, (f"open({str(self.marker)!r}, 'w')",)


@pytest.mark.parametrize("payload", [_Shell, _Exec, _Eval])
@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_a_malicious_pickle_is_refused_without_running_code(tmp_path, payload, protocol):
    marker = tmp_path / "pwned"
    data = pickle.dumps({"a": 1.0, "evil": payload(marker)}, protocol=protocol)
    with pytest.raises(DataError) as info:
        load_restricted_pickle(data, source="evil.bench")
    message = str(info.value)
    assert "\n" not in message and "evil.bench" in message and "refused" in message
    callee = {_Shell: "system", _Exec: "exec", _Eval: "eval"}[payload]
    modules = ("posix", "nt", "os") if payload is _Shell else ("builtins", "__builtin__")  # protocols < 3: __builtin__
    assert any(f"refused to load global {module}.{callee} " in message for module in modules), message
    assert not marker.exists()


def test_a_malicious_file_is_refused_naming_the_file(tmp_path):
    marker, path = tmp_path / "pwned", tmp_path / "evil.bench"
    path.write_bytes(pickle.dumps({1: _Shell(marker)}, protocol=3))
    with pytest.raises(DataError, match=r"evil\.bench: refused to load global (posix|nt|os)\.system"):
        load_restricted_pickle(path)
    assert not marker.exists()


def test_admitted_globals_cannot_build_object_dtypes():
    # numpy.dtype is admitted for 'f8' and the like only: an object dtype (a way to smuggle objects) is refused
    data = pickle.dumps({"x": np.dtype("O")}, protocol=3).replace(b"numpy._core", b"numpy.core")
    with pytest.raises(DataError, match="not a plain numeric dtype"):
        load_restricted_pickle(data)
    with pytest.raises(DataError, match="refused to load global builtins.getattr"):
        load_restricted_pickle(pickle.dumps({"x": getattr}, protocol=3))


@pytest.mark.parametrize("top", [[1.0, 2.0], 3.5, "text", None, (1, 2)])
def test_a_top_level_that_is_not_a_dict_is_refused(top):
    with pytest.raises(DataError, match="expected a dict") as info:
        load_restricted_pickle(pickle.dumps(top), source="list.bench")
    assert "\n" not in str(info.value) and "list.bench" in str(info.value)


def test_garbage_and_truncated_pickles_are_one_line_data_errors(tmp_path):
    good = pickle.dumps({1: {"perf": 0.5}}, protocol=3)
    for data in (good[: len(good) // 2], b"not a pickle at all"):
        with pytest.raises(DataError, match="not a readable pickle") as info:
            load_restricted_pickle(data)
        assert "\n" not in str(info.value)
    with pytest.raises(DataError, match="cannot read"):
        load_restricted_pickle(tmp_path / "absent.bench")


def test_a_legitimate_pickle_of_dicts_floats_and_numpy_scalars_loads(tmp_path):
    plain = {0: {"valid_perf": 0.77, "perf": 0.79, "latency": 0.0059, "para": 1.5}, 10000: {"perf": 0.8}}
    assert load_restricted_pickle(pickle.dumps(plain, protocol=3), allowed={}) == plain
    # the package files spell the scalar's reconstructor numpy.core.multiarray.scalar (numpy 1.x's name)
    record = {"para": np.float64(1.736711), "n": np.int64(7)}
    data = pickle.dumps({5: record}, protocol=3).replace(b"numpy._core", b"numpy.core")
    path = tmp_path / "small.bench"
    path.write_bytes(data)
    loaded = load_restricted_pickle(path)
    assert loaded == {5: record} and type(loaded[5]["para"]) is np.float64
    with pytest.raises(DataError, match="refused to load global numpy.core.multiarray.scalar"):
        load_restricted_pickle(data, allowed={})


def test_the_package_files_name_exactly_the_admitted_globals():
    data = bench_file("cora").read_bytes()
    names = {arg for op, arg, _ in pickletools.genops(data) if op.name in ("GLOBAL", "INST")}
    assert not any(op.name in ("STACK_GLOBAL", "EXT1", "EXT2", "EXT4", "PERSID", "BINPERSID", "OBJ")
                   for op, _, _ in pickletools.genops(data))
    assert names == {f"{m} {n}" for m, n in NUMPY_SCALAR_GLOBALS}


# -- the space --------------------------------------------------------------------------------------------
def test_space_shape_and_hash_scheme():
    assert isinstance(SPACE, NBGraphSpace) and SPACE.num_cells == 26_206
    assert [p.label for p in SPACE.positions] == ["link", "op1", "op2", "op3", "op4"]
    assert SPACE.positions[0].options == LINK_NAMES and len(LINK_NAMES) == 9
    assert all(p.options == GNN_OPS for p in SPACE.positions[1:]) and len(GNN_OPS) == 9
    assert SPACE.graph_vocabulary == ("input", *GNN_OPS, "output")
    best = SPACE.parse("0123|fc|gat|fc|gin")
    assert SPACE.hash_of(best) == 87072 and SPACE.canonical_hash(best) == "87072"
    assert SPACE.from_hash(87072) == best and SPACE.from_hash(0) == SPACE.parse("0000|gat|gat|gat|gat")
    for bad in (-1, 90000, 12349, 1.5, True, "87072"):
        with pytest.raises(GenotypeError, match="not a NAS-Bench-Graph hash"):
            SPACE.from_hash(bad)
    with pytest.raises(GenotypeError, match="not a genotype of space 'nbgraph'"):
        SPACE.from_hash(88888)  # all skip: not in the benchmark
    with pytest.raises(GenotypeError, match="unknown choice 'gcnn' at op2"):
        SPACE.parse("0123|fc|gcnn|fc|gin")


def test_hashes_agree_with_the_package():
    from nas_bench_graph.architecture import Arch

    rng = np.random.default_rng(0)
    for genotype in (SPACE.sample(rng) for _ in range(300)):
        names = SPACE.names(genotype)
        arch = Arch(list(SPACE.link_of(genotype)), names[1:])
        assert arch.hash_arch() == SPACE.hash_of(genotype) == arch.valid_hash()
        assert list(SPACE.link_of(genotype)) == [int(c) for c in names[0]]


def test_every_admissible_genotype_round_trips():
    genotypes = list(SPACE.enumerate())
    assert len(genotypes) == 26_206 == len(set(genotypes))
    hashes = [SPACE.hash_of(g) for g in genotypes]
    assert hashes == sorted(hashes)
    for genotype in genotypes:
        text = str(genotype)
        assert SPACE.parse(text) == genotype and str(SPACE.parse(text)) == text
        assert SPACE.from_json(genotype.to_json()) == genotype
        assert SPACE.from_hash(int(SPACE.canonical_hash(genotype))) == genotype
    sample = genotypes[::97]
    assert all(genotype_from_json(g.to_json()) == g for g in sample)
    assert all(SPACE.from_json({"space": "nbgraph", "string": str(g)}) == g for g in sample)


def test_graphs_are_the_gnn_dags():
    graph = SPACE.to_graph(SPACE.parse("0012|gcn|sage|fc|gin"))
    assert graph.ops == ("input", "gcn", "sage", "fc", "gin", "output")
    assert graph.edges == ((0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 5))
    chain = SPACE.to_graph(SPACE.parse("0123|fc|gat|fc|gin"))
    assert chain.edges == ((0, 1), (1, 2), (2, 3), (3, 4), (4, 5))
    for genotype in list(SPACE.enumerate())[::53]:
        graph, link = SPACE.to_graph(genotype), SPACE.link_of(genotype)
        assert graph.ops[1:5] == tuple(SPACE.names(genotype)[1:])
        for node in range(1, 5):  # one input per computing node, its link target
            assert [s for s, d in graph.edges if d == node] == [link[node - 1]]
        has_child = {s for s, d in graph.edges if d < 5}
        assert sorted(s for s, d in graph.edges if d == 5) == [n for n in range(1, 5) if n not in has_child]


def test_sampling_and_neighbours_stay_admissible():
    admissible = set(SPACE.enumerate())
    rng = np.random.default_rng(1)
    for _ in range(200):
        genotype = SPACE.sample(rng)
        assert genotype in admissible
        neighbours = SPACE.neighbors(genotype)
        assert neighbours and all(n in admissible and SPACE.edit_distance(n, genotype) == 1 for n in neighbours)
        assert SPACE.mutate(genotype, rng) in admissible


def test_from_choices_repairs_a_row_outside_the_benchmark():
    admissible = set(SPACE.enumerate())
    all_skip = (8, 8, 8, 8, 8)
    unsorted = (0, 1, 0, 0, 0)  # 0000|gcn|gat|gat|gat: a relabelling of 0000|gat|gat|gat|gcn
    for row in (all_skip, unsorted):
        with pytest.raises(GenotypeError, match="not a genotype of space 'nbgraph'"):
            SPACE.from_choices(row, repair=False)
        repaired = SPACE.from_choices(row)
        assert repaired in admissible and SPACE.to_choices(repaired) != row
        assert sum(a != b for a, b in zip(SPACE.to_choices(repaired), row)) == 1
    assert SPACE.from_choices((8, 7, 0, 7, 2)) == SPACE.parse("0123|fc|gat|fc|gin")


def test_a_missing_package_or_file_says_how_to_install(monkeypatch, tmp_path):
    import nasspace.nbgraph as module

    def absent(name):
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(module.resources, "files", absent)
    with pytest.raises(DataError, match="pip install nas-bench-graph") as info:
        NBGraphSpace()
    assert "\n" not in str(info.value)
    monkeypatch.setattr(module.resources, "files", lambda name: tmp_path)
    with pytest.raises(DataError, match=r"cora\.bench is missing.*pip install nas-bench-graph"):
        read_bench("cora")
    with pytest.raises(DataError, match="pip install nas-bench-graph"):
        nbg.load_nbgraph_table("pubmed")


# -- the tables ---------------------------------------------------------------------------------------------
def test_registered_table_specs():
    specs = list_table_specs("nbgraph")
    assert [s.dataset for s in specs] == list(NBGRAPH_DATASETS)
    for spec in specs:
        assert (spec.search_metric, spec.report_metric, spec.num_cells) == ("valid_perf", "perf", 26_206)
        assert spec.objectives == spec.minimize == ("latency", "para")
        assert set(spec.metrics) == {"valid_perf", "perf", "latency", "para"}
        assert spec.sources == ("nas-bench-graph",)
    with pytest.raises(DataError, match="no dataset 'proteins'"):
        nbg.load_nbgraph_table("proteins")


def test_cora_facts():
    table = load_table("nbgraph", "cora")
    assert len(table) == 26_206
    assert table.available_metrics() == ["valid_perf", "perf", "latency", "para"]
    assert table.minimize == {"latency", "para"}
    perf, valid = table.metric("perf"), table.metric("valid_perf")
    assert round(float(perf.max()), 4) == 0.8313
    best_valid = int(np.argmax(valid))
    assert round(float(perf[best_valid]), 3) == 0.826
    assert table.arch_strings[best_valid] == "0123|fc|gat|fc|gin"
    assert table.arch_strings == [str(g) for g in SPACE.enumerate()]
    record = table.record("0000|gat|gat|gat|gat")  # the file's first entry, key 0
    assert record["index"] == 0 and record["perf"] == pytest.approx(0.797)
    assert record["valid_perf"] == pytest.approx(0.7733333333333334) and record["para"] == pytest.approx(1.736711)
    assert all(np.isfinite(table.metric(m)).all() for m in table.available_metrics())


def test_every_dataset_holds_the_same_architectures():
    keys = set(read_bench("cora"))
    assert len(keys) == 26_206
    for dataset in NBGRAPH_DATASETS:
        bench = read_bench(dataset)
        assert set(bench) == keys, dataset
        assert all(set(r) == {"valid_perf", "perf", "latency", "para"} for r in bench.values())
    table = load_table("nbgraph", "arxiv")
    assert len(table) == 26_206 and table.arch_strings == load_table("nbgraph", "cora").arch_strings


def test_a_file_with_a_foreign_key_is_a_data_error(monkeypatch):
    import nasspace.benchmarks.nbgraph as module

    monkeypatch.setattr(module, "read_bench", lambda dataset: {0: {"valid_perf": 0.1, "perf": 0.1, "latency": 0.1,
                                                                   "para": 0.1}, 88888: {}})
    with pytest.raises(DataError, match="key 88888 is not an architecture of the nbgraph space"):
        module.load_nbgraph_table("cora")
    monkeypatch.setattr(module, "read_bench", lambda dataset: {0: {"valid_perf": "x", "perf": 0.1, "latency": 0.1,
                                                                   "para": 0.1}})
    with pytest.raises(DataError, match="'valid_perf' of architecture 0 is 'x'"):
        module.load_nbgraph_table("cora")
