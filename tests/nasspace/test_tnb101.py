"""TransNAS-Bench-101 micro: the ``tnb101-micro`` space and its seven task tables."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from nasspace import DataError, GenotypeError, get_space
from nasspace.benchmarks.registry import get_table_spec, list_table_specs, load_table
from nasspace.benchmarks.tnb101 import (
    TNB101_METRIC_NOTES,
    TNB101_SOURCE,
    TNB101_TASKS,
    load_tnb101_table,
    read_tnb101_zip,
)
from nasspace.choice import EDGE_CELL
from nasspace.fetch import DataStore
from nasspace.nb201 import NB201_EDGES
from nasspace.space import genotype_from_json
from nasspace.tnb101 import TNB101_MICRO, TNB101_OPS, TNB101_SIZE
from tests.conftest import mirror_dir

SPACE = get_space("tnb101-micro")
ALL_CELLS = list(SPACE.enumerate())


def _dead(choices: tuple[int, ...]) -> bool:
    """No path of non-zero ops from input to output (edges in NB201 order, code 0 = none)."""
    reached = {0}
    for (src, dst), code in zip(NB201_EDGES, choices):
        if code != 0 and src in reached:
            reached.add(dst)
    return 3 not in reached


# -- the space ------------------------------------------------------------------------------------------
def test_the_space_is_registered_with_the_nb201_cell_layout():
    assert SPACE is TNB101_MICRO and SPACE.name == "tnb101-micro"
    assert SPACE.layout == EDGE_CELL and SPACE.nodes == 4 and SPACE.edges == NB201_EDGES
    assert SPACE.ops == TNB101_OPS == ("none", "skip_connect", "conv_1x1", "conv_3x3")
    assert [p.label for p in SPACE.positions] == ["0>1", "0>2", "1>2", "0>3", "1>3", "2>3"]
    assert SPACE.num_cells == TNB101_SIZE == 4096 and SPACE.is_enumerable()


def test_every_cell_round_trips():
    assert len(ALL_CELLS) == 4096 and len({str(g) for g in ALL_CELLS}) == 4096
    for row, genotype in enumerate(ALL_CELLS):
        text = str(genotype)
        assert SPACE.parse(text) == genotype and str(SPACE.parse(text)) == text
        data = genotype.to_json()
        assert genotype_from_json(data) == genotype and SPACE.from_json(json.dumps(data)) == genotype
        codes = SPACE.to_naslib(genotype)
        assert SPACE.from_naslib(codes) == genotype
        assert int("".join(map(str, codes)), 4) == row  # enumeration order: the codes as a base-4 number
        a, b, c, d, e, f = codes
        assert SPACE.to_tnb101_string(genotype) == f"64-41414-{a}_{b}{c}_{d}{e}{f}"


def test_naslib_codes_name_the_benchmarks_ops_in_nb201_edge_order():
    genotype = SPACE.from_naslib((3, 3, 2, 1, 3, 2))
    assert str(genotype) == "conv_3x3|conv_3x3|conv_1x1|skip_connect|conv_3x3|conv_1x1"
    assert SPACE.to_tnb101_string(genotype) == "64-41414-3_32_132"
    assert SPACE.from_naslib(np.array([0, 1, 2, 3, 0, 1])).choices == (0, 1, 2, 3, 0, 1)
    graph = SPACE.to_graph(genotype)
    assert graph.ops == ("input", "conv_3x3", "conv_3x3", "conv_1x1", "skip_connect", "conv_3x3", "conv_1x1", "output")


@pytest.mark.parametrize("codes, fragment", [((0, 1, 2, 3, 0), "6 integer op codes"),
                                             ((0, 1, 2, 3, 0, 4), "out of range"),
                                             ((True, 1, 2, 3, 0, 1), "6 integer"), (("0", 1, 2, 3, 0, 1), "6 integer")])
def test_bad_naslib_keys(codes, fragment):
    with pytest.raises(GenotypeError, match=fragment):
        SPACE.from_naslib(codes)


def test_parse_errors():
    with pytest.raises(GenotypeError, match="6 '\\|'-separated"):
        SPACE.parse("none|none")
    with pytest.raises(GenotypeError, match="unknown choice 'avg_pool_3x3'"):
        SPACE.parse("avg_pool_3x3|none|none|none|none|none")


def test_sample_and_neighbours():
    assert SPACE.sample(7) == SPACE.sample(7)
    rng = np.random.default_rng(0)
    samples = {SPACE.sample(rng) for _ in range(200)}
    assert len(samples) > 150 and all(SPACE.parse(str(s)) == s for s in samples)
    for genotype in (ALL_CELLS[0], ALL_CELLS[1234], ALL_CELLS[-1]):
        neighbours = SPACE.neighbors(genotype)
        assert len(neighbours) == 18 and len(set(neighbours)) == 18 and genotype not in neighbours
        assert all(SPACE.edit_distance(genotype, n) == 1 for n in neighbours)


# -- the archive reader, on synthetic archives ------------------------------------------------------------
def _records(task_index: int, rows: range) -> list[dict]:
    return [{"idx": str(r), "arch": str(tuple(ALL_CELLS[r].choices)), "val_accuracy": 10.0 * task_index + r / 4096,
             "zen": {"score": float(r), "time": 0.1}} for r in rows]


def _write_zip(path, members: dict[str, object], compression: int = zipfile.ZIP_DEFLATED) -> None:
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr("zen/", "")
        for name, content in members.items():
            archive.writestr(name, content if isinstance(content, (str, bytes)) else json.dumps(content))


def _members(skip_rows: int = 0) -> dict[str, object]:
    members = {}
    for t, task in enumerate(TNB101_TASKS):
        for offset in range(0, 4096, 1000):
            members[f"zen/benchmark--transbench101_micro--{task}--{offset}.json"] = _records(
                t, range(offset, min(offset + 1000, 4096 - (skip_rows if task == "jigsaw" else 0))))
    members["zen/benchmark--nasbench201--cifar10--0.json"] = [{"unrelated": True}]
    return members


def _one_line_error(path) -> str:
    with pytest.raises(DataError) as info:
        read_tnb101_zip(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(path.name)
    return message


def test_a_synthetic_archive_is_merged_per_task(tmp_path):
    path = tmp_path / "zen.zip"
    _write_zip(path, _members())
    metrics = read_tnb101_zip(path)
    assert sorted(metrics) == sorted(TNB101_TASKS)
    for t, task in enumerate(TNB101_TASKS):
        np.testing.assert_allclose(metrics[task]["valid_metric"], 10.0 * t + np.arange(4096) / 4096)
        np.testing.assert_array_equal(metrics[task]["zen_score"], np.arange(4096))


def test_a_missing_cell_is_a_one_line_error(tmp_path):
    path = tmp_path / "zen.zip"
    _write_zip(path, _members(skip_rows=1))
    assert "exactly 4096 distinct cells; got jigsaw 4095" in _one_line_error(path)


def test_a_missing_task_is_a_one_line_error(tmp_path):
    path = tmp_path / "zen.zip"
    _write_zip(path, {k: v for k, v in _members().items() if "--normal--" not in k})
    assert "got normal 0" in _one_line_error(path)


def test_a_duplicate_cell_is_a_one_line_error(tmp_path):
    members = _members()
    members["zen/benchmark--transbench101_micro--class_scene--0.json"] += _records(0, range(3000, 3001))
    path = tmp_path / "zen.zip"
    _write_zip(path, members)
    message = _one_line_error(path)
    assert "task class_scene lists cell (2, 3, 2, 3, 2, 0) twice" in message
    assert "(zen/benchmark--transbench101_micro--class_scene--0.json and" in message


def _record(arch: str, val_accuracy: object = 1.0, **zen: object) -> dict:
    return {"idx": "0", "arch": arch, "val_accuracy": val_accuracy, "zen": zen or {"score": 1.0}}


@pytest.mark.parametrize("content, fragment", [
    ('[{"idx": "0", "arch": "(0, 0', "is not valid JSON"),
    ({"arch": "(0, 0, 0, 0, 0, 0)"}, "not a list of records"),
    ([_record("(0, 0, 0, 0, 0, 4)")], "not 6 op codes in 0..3"),
    ([_record("(0, 0, 0)")], "not 6 op codes"),
    ([_record("0-0-0")], "not a tuple of 6"),
    ([_record("(1, 3, 3, 1, 0, 0)", "NaN")], "val_accuracy is 'NaN'"),
    ([_record("(1, 3, 3, 1, 0, 0)", 1.0, score=float("inf"))], "zen score is inf"),
    ([{"idx": "0", "arch": "(0, 0, 0, 0, 0, 0)", "val_accuracy": 1.0}], "is not an object with"),
])
def test_a_corrupt_member_is_a_one_line_error(tmp_path, content, fragment):
    members = _members()
    member = "zen/benchmark--transbench101_micro--room_layout--2000.json"
    members[member] = content
    path = tmp_path / "zen.zip"
    _write_zip(path, members)
    message = _one_line_error(path)
    assert fragment in message and "room_layout--2000.json" in message


def test_a_damaged_archive_is_a_one_line_error(tmp_path):
    path = tmp_path / "zen.zip"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    assert "not a readable zip archive" in _one_line_error(path)
    buffer = io.BytesIO()
    _write_zip(buffer, _members(), zipfile.ZIP_STORED)
    data = bytearray(buffer.getvalue())
    start = data.index(b'"val_accuracy": ')  # a stored member: change a digit, so its CRC no longer matches
    data[start + 16] = ord("9") if data[start + 16] != ord("9") else ord("8")
    path.write_bytes(bytes(data))
    assert "not a readable zip archive (Bad CRC-32" in _one_line_error(path)


def test_an_absent_archive_says_how_to_fetch_it(tmp_path):
    with pytest.raises(DataError, match="crlso data fetch naslib-zen-tnb101"):
        load_tnb101_table("jigsaw", str(tmp_path))
    with pytest.raises(DataError, match="no task 'jigsaw2'; valid: class_scene"):
        load_tnb101_table("jigsaw2", str(tmp_path))


# -- the registered tables ------------------------------------------------------------------------------
def test_one_table_spec_per_task():
    specs = list_table_specs("tnb101-micro")
    assert [s.dataset for s in specs] == list(TNB101_TASKS)
    for spec in specs:
        assert spec.search_metric == spec.report_metric == "valid_metric" and spec.num_cells == 4096
        assert spec.sources == (TNB101_SOURCE,) and spec.minimize == ()
        assert set(spec.metrics) == {"valid_metric", "zen_score"} and "higher is better" in spec.metrics["valid_metric"]
        assert spec.metrics == TNB101_METRIC_NOTES[spec.dataset]
    assert "negative" in get_table_spec("tnb101-micro", "room_layout").metrics["valid_metric"]
    assert "SSIM" in get_table_spec("tnb101-micro", "normal").metrics["valid_metric"]


@pytest.fixture(scope="module")
def tnb101_dir() -> str:
    """The default data folder once the archive is there (fetched from the mirror; skips when it cannot be)."""
    store = DataStore()
    try:
        store.fetch(TNB101_SOURCE, mirror=mirror_dir())
        store.path(TNB101_SOURCE)
    except DataError as exc:
        pytest.skip(f"TransNAS-Bench-101 archive unavailable: {exc}")
    return str(store.data_dir)


@pytest.mark.parametrize("task", TNB101_TASKS)
def test_every_task_table_is_complete(tnb101_dir, task):
    table = load_table("tnb101-micro", task, tnb101_dir)
    assert table is load_tnb101_table(task, tnb101_dir)
    assert len(table) == 4096 and len(set(table.arch_strings)) == 4096
    assert table.arch_strings == [str(g) for g in ALL_CELLS]
    assert table.available_metrics() == ["valid_metric", "zen_score"] and table.minimize == frozenset()
    for name in ("valid_metric", "zen_score"):
        assert np.isfinite(table.metric(name)).all()


def test_known_optima(tnb101_dir):
    scene = load_table("tnb101-micro", "class_scene", tnb101_dir)
    jigsaw = load_table("tnb101-micro", "jigsaw", tnb101_dir)
    assert round(float(scene.metric("valid_metric").max()), 2) == 54.94
    assert round(float(jigsaw.metric("valid_metric").max()), 2) == 95.37
    assert scene.arch_strings[int(np.argmax(scene.metric("valid_metric")))] == \
        "conv_3x3|conv_3x3|conv_1x1|skip_connect|conv_3x3|conv_1x1"
    assert jigsaw.arch_strings[int(np.argmax(jigsaw.metric("valid_metric")))] == \
        "conv_3x3|conv_3x3|none|skip_connect|conv_3x3|conv_1x1"
    assert scene.query("conv_3x3|conv_3x3|conv_1x1|skip_connect|conv_3x3|conv_1x1", "valid_metric") == \
        pytest.approx(54.9363, abs=1e-4)


def test_signs_and_scales(tnb101_dir):
    values = {task: load_table("tnb101-micro", task, tnb101_dir).metric("valid_metric") for task in TNB101_TASKS}
    for task in ("class_scene", "class_object", "jigsaw", "segmentsemantic"):
        assert 0 <= values[task].min() and values[task].max() <= 100 and values[task].max() > 1  # a percentage
    assert (values["room_layout"] < 0).all()  # a negated loss
    for task in ("normal", "autoencoder"):
        assert 0 <= values[task].min() and values[task].max() < 1  # SSIM


def test_dead_cells_confirm_the_encoding_and_that_higher_is_better(tnb101_dir):
    """Cells with no non-zero path to the output compute a constant: under the NB201 edge order with code 0 =
    none they are 169 and carry the Zen-NAS sentinel; their metric sits in the bottom tail of every task."""
    dead = np.array([_dead(g.choices) for g in ALL_CELLS])
    assert dead.sum() == 169
    for task in TNB101_TASKS:
        table = load_table("tnb101-micro", task, tnb101_dir)
        zen, valid = table.metric("zen_score"), table.metric("valid_metric")
        assert (zen[dead] == -1e8).all() and (zen[~dead] > -1e8).all()
        assert np.median(valid[dead]) < np.quantile(valid[~dead], 0.1)
    for task in ("class_scene", "class_object", "room_layout", "jigsaw", "segmentsemantic"):
        valid = load_table("tnb101-micro", task, tnb101_dir).metric("valid_metric")
        assert np.ptp(valid[dead]) < 1e-3  # the same constant network (up to evaluation noise)
    assert load_table("tnb101-micro", "class_scene", tnb101_dir).metric("valid_metric")[dead][0] == \
        pytest.approx(7.4841, abs=1e-4)
    assert dead[0] and ALL_CELLS[0].choices == (0, 0, 0, 0, 0, 0)
