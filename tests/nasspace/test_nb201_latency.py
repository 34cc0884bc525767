"""NB201 latency on 27 devices (HELP's files) as ``latency:<device>`` metrics of every NB201 table."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from nasspace import DataError, MetricUnavailable
from nasspace.benchmarks.nb201 import NB201Table
from nasspace.benchmarks.nb201_latency import (LATENCY_DEVICES, LATENCY_METRICS, ORDER_FILE, check_order, latency_file,
                                               read_latency)
from nasspace.fetch import DataStore, load_manifest

# SOURCES.md: cell 0 (official index) on these devices, ms.
CELL0 = {"pixel3": 3.60585, "raspi4": 10.48198, "eyeriss": 3.64562, "fpga": 2.57296}


@pytest.fixture(scope="module")
def latency_store(data_store):
    names = [ORDER_FILE, *(latency_file(d) for d in LATENCY_DEVICES)]
    if not all(data_store.has(n) for n in names):
        pytest.skip("the HELP latency files are not fetched")
    return data_store


def _arch2idx(table):
    return {s: i for i, s in enumerate(table.arch_strings)}


def test_devices_match_the_manifest():
    manifest = load_manifest()
    assert list(LATENCY_DEVICES) == sorted(LATENCY_DEVICES) and len(LATENCY_DEVICES) == 27
    named = sorted(n[len("help-latency-"):] for n in manifest if n.startswith("help-latency-"))
    assert named == list(LATENCY_DEVICES)
    for name in [ORDER_FILE, *(latency_file(d) for d in LATENCY_DEVICES)]:
        entry = manifest[name]
        assert entry.license == "MIT" and entry.default and entry.sha256 and entry.git_blob and entry.size
    assert manifest["help-latency-pixel3"].git_blob == "4fcad612d7764b1d3871973260c7784669db59c5"
    assert manifest[ORDER_FILE].git_blob == "aa833a5044a4435a05a2cbb0d5583afe7da2d1be"
    assert len({manifest[n].filename for n in manifest}) == len(manifest)


def test_cell0_values_of_sources_md(latency_store, nb201_cifar10):
    for device, expected in CELL0.items():
        assert read_latency(latency_store, device, nb201_cifar10.arch_strings)[0] == pytest.approx(expected, abs=1e-5)
        assert nb201_cifar10.query(nb201_cifar10.genotypes[0], f"latency:{device}") == pytest.approx(expected, abs=1e-5)


def test_every_device_loads_complete(latency_store, nb201_cifar10):
    for device in LATENCY_DEVICES:
        values = read_latency(latency_store, device, nb201_cifar10.arch_strings)
        assert values.shape == (15625,) and values.dtype == np.float64
        assert np.isfinite(values).all() and (values > 0).all()
        assert not values.flags.writeable
        assert np.array_equal(nb201_cifar10.metric(f"latency:{device}"), values)


def test_every_table_exposes_latency(latency_store, nb201_cifar10):
    assert set(LATENCY_METRICS) <= set(nb201_cifar10.available_metrics())
    cell = nb201_cifar10.genotypes[6111]
    pixel3 = nb201_cifar10.query(cell, "latency:pixel3")
    assert pixel3 > 0
    record = nb201_cifar10.record(cell)  # the accuracies only: reading latencies imports torch (crlso lookup --objectives)
    assert "valid_acc" in record and not set(LATENCY_METRICS) & record.keys()
    assert nb201_cifar10.metric_function("latency:pixel3")(cell) == pixel3
    assert "latency:pixel3" in nb201_cifar10.minimize and "valid_acc" not in nb201_cifar10.minimize
    other = NB201Table("ImageNet16-120", store=latency_store)  # the latency does not depend on the dataset
    assert "latency:pixel3" in other.available_metrics()
    assert other.query(cell, "latency:pixel3") == pixel3


def test_registered_tables_list_latency_objectives():
    from nasspace.benchmarks.registry import list_table_specs

    specs = list_table_specs("nb201")
    assert specs
    for spec in specs:
        assert spec.objectives == LATENCY_METRICS
        assert set(LATENCY_METRICS) <= set(spec.minimize) and "train_time" in spec.minimize
        assert all(m in spec.metrics for m in LATENCY_METRICS)


def test_unknown_device_is_one_line_listing_the_devices(nb201_cifar10, data_store):
    for name in ("latency:pixel4", "latency", "latency:"):
        with pytest.raises(MetricUnavailable) as info:
            nb201_cifar10.metric(name)
        message = str(info.value)
        assert "\n" not in message and repr(name) in message
        assert all(d in message for d in LATENCY_DEVICES)
    with pytest.raises(MetricUnavailable, match="pixel3"):
        read_latency(data_store, "pixel4", [])
    with pytest.raises(MetricUnavailable, match="valid metrics: valid_acc"):  # other names keep their message
        nb201_cifar10.metric("accuracy")


def test_order_check_catches_swapped_missing_and_extra_rows(nb201_cifar10):
    archs = nb201_cifar10.arch_strings
    good = _arch2idx(nb201_cifar10)
    check_order(good, archs)
    swapped = dict(good)
    swapped[archs[5]], swapped[archs[9]] = 9, 5
    with pytest.raises(DataError) as info:
        check_order(swapped, archs)
    assert repr(archs[5]) in str(info.value) and "\n" not in str(info.value)
    missing = dict(good)
    del missing[archs[7]]
    with pytest.raises(DataError, match="official index 7"):
        check_order(missing, archs)
    with pytest.raises(DataError, match="'extra'"):
        check_order({**good, "extra": 15625}, archs)
    with pytest.raises(DataError, match="expected a dict"):
        check_order(list(good), archs)


def _copy_store(tmp_path, source, names):
    """A data folder holding copies of ``names`` from ``source``, read without the manifest checks."""
    store = DataStore(tmp_path / "data", verify=False)
    for name in names:
        target = store.data_dir / store.entry(name).filename
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source.path(name), target)
    return store


def test_a_reordered_mapping_file_is_a_data_error(tmp_path, latency_store, nb201_cifar10):
    torch = pytest.importorskip("torch")
    store = _copy_store(tmp_path, latency_store, ["nb201-test", latency_file("pixel3")])
    swapped = _arch2idx(nb201_cifar10)
    first, second = nb201_cifar10.arch_strings[100], nb201_cifar10.arch_strings[200]
    swapped[first], swapped[second] = 200, 100
    torch.save(swapped, store.data_dir / store.entry(ORDER_FILE).filename)
    table = NB201Table("cifar10", store=store)
    assert "latency:pixel3" in table.available_metrics()
    with pytest.raises(DataError) as info:
        table.metric("latency:pixel3")
    assert not isinstance(info.value, MetricUnavailable)
    assert repr(first) in str(info.value) and "\n" not in str(info.value)


def test_a_short_latency_file_is_a_data_error(tmp_path, latency_store):
    torch = pytest.importorskip("torch")
    store = _copy_store(tmp_path, latency_store, ["nb201-test", ORDER_FILE])
    torch.save([1.0, 2.0, 3.0], store.data_dir / store.entry(latency_file("fpga")).filename)
    with pytest.raises(DataError, match=r"expected \(15625,\)"):
        NB201Table("cifar100", store=store).metric("latency:fpga")


def test_unfetched_latency_is_unavailable_with_the_fetch_command(tmp_path, latency_store):
    store = _copy_store(tmp_path, latency_store, ["nb201-test"])
    table = NB201Table("cifar10", store=store)
    assert not any(m.startswith("latency:") for m in table.available_metrics())
    with pytest.raises(MetricUnavailable, match="crlso data fetch help-"):
        table.metric("latency:raspi4")
    assert "latency:raspi4" not in table.record(table.arch_strings[0])


def test_importing_the_table_does_not_import_torch():
    code = "import sys, nasspace.benchmarks.nb201, nasspace.benchmarks.nb201_latency; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
