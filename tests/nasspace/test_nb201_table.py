import math
import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest

from nasspace import DataError, GenotypeError, MetricUnavailable, get_space
from nasspace.benchmarks.frame_pickle import read_frame_pickle
from nasspace.benchmarks.nb201 import NB201_METRICS, NB201Table

SPACE = get_space("nb201")
ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"


def test_facts_of_sources_md(nb201_cifar10):
    table = nb201_cifar10
    assert len(table) == 15625
    test, valid = table.metric("test_acc"), table.metric("valid_acc")
    assert int(np.argmax(test)) == 6111 and test.max() == pytest.approx(94.3733, abs=1e-4)
    assert int(np.argmax(valid)) == 6111 and valid.max() == pytest.approx(91.6067, abs=1e-4)
    assert table.index_of(ALL_SKIP) == 1835
    assert table.query(ALL_SKIP, "test_acc") == pytest.approx(54.30, abs=0.005)


def test_every_cifar10_metric_is_complete(nb201_cifar10):
    from nasspace.benchmarks.nb201_latency import LATENCY_METRICS

    assert nb201_cifar10.available_metrics() == [*NB201_METRICS, *LATENCY_METRICS]
    for name in NB201_METRICS:
        values = nb201_cifar10.metric(name)
        assert values.shape == (15625,) and np.isfinite(values).all()
        assert not values.flags.writeable
    record = nb201_cifar10.record(nb201_cifar10.genotypes[6111])
    assert record["index"] == 6111 and 0 < record["valid_acc_12ep"] < record["valid_acc"]


@pytest.mark.parametrize("dataset, best, index", [("cifar100", 73.5133, 9930), ("ImageNet16-120", 47.3111, 857)])
def test_other_datasets(data_store, dataset, best, index):
    table = NB201Table(dataset, store=data_store)
    test = table.metric("test_acc")
    assert int(np.argmax(test)) == index and test.max() == pytest.approx(best, abs=1e-4)
    assert np.isfinite(table.metric("test_acc_12ep")).all()
    if not data_store.has("nb201-cifar100-valid" if dataset == "cifar100" else "nb201-imagenet16-valid"):
        with pytest.raises(MetricUnavailable, match="crlso data fetch"):
            table.metric("valid_acc")


def test_bad_names(nb201_cifar10, data_store):
    with pytest.raises(MetricUnavailable, match="valid metrics"):
        nb201_cifar10.metric("accuracy")
    with pytest.raises(ValueError, match="valid datasets"):
        NB201Table("mnist", store=data_store)
    with pytest.raises(GenotypeError, match="unknown op"):
        nb201_cifar10.index_of("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|")


def test_metric_function_holds_no_table(nb201_cifar10):
    fn = nb201_cifar10.metric_function("valid_acc")
    assert fn(nb201_cifar10.genotypes[6111]) == pytest.approx(91.6067, abs=1e-4)
    cells = [c.cell_contents for c in fn.__closure__]
    assert not any(isinstance(c, NB201Table) for c in cells)


def test_frame_pickle_refuses_other_callables():
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo should never run",))

    with pytest.raises(DataError, match=r"names (posix|nt|os)\.system, which this reader does not allow"):
        read_frame_pickle(pickle.dumps(Evil()))


def _results_count(name, arch, seed, valid, test, epochs):
    # One trial in the format of nas_201_api's ResultsCount.state_dict().
    last = epochs - 1
    return {
        "name": name, "net_state_dict": None, "train_acc1es": {last: 99.0}, "train_acc5es": None,
        "train_losses": {last: 0.01}, "train_times": {i: 10.0 for i in range(epochs)},
        "arch_config": {"channel": 16, "num_cells": 5, "arch_str": arch, "class_num": 10},
        "params": 1.0, "flop": 100.0, "seed": seed, "epochs": epochs, "latency": [0.01],
        "eval_names": ["x-valid", "ori-test"],
        "eval_acc1es": {f"x-valid@{last}": valid, f"ori-test@{last}": test},
        "eval_times": {}, "eval_losses": {f"x-valid@{last}": 0.3, f"ori-test@{last}": 0.3},
    }


def _arch_results(index, arch, valid, test, epochs):
    results = {}
    for dataset in ("cifar10-valid", "cifar10"):
        for seed in (777, 888):
            shift = 0.5 if seed == 888 else -0.5
            results[(dataset, seed)] = _results_count(dataset, arch, seed, valid + shift, test + shift, epochs)
    return {
        "arch_index": index, "arch_str": arch, "all_results": results,
        "dataset_seed": {"cifar10-valid": [777, 888], "cifar10": [777, 888]}, "clear_net_done": True,
    }


def test_official_pth_file_loads_into_the_same_table(tmp_path):
    torch = pytest.importorskip("torch")
    archs = [str(SPACE.sample(s)) for s in range(3)]
    archs = list(OrderedDict.fromkeys(archs))
    payload = {
        "meta_archs": archs,
        "evaluated_indexes": list(range(len(archs))),
        "arch2infos": {
            i: {"less": _arch_results(i, a, 80.0 + i, 81.0 + i, 12), "full": _arch_results(i, a, 90.0 + i, 91.0 + i, 200)}
            for i, a in enumerate(archs)
        },
    }
    path = tmp_path / "NAS-Bench-201-v1_1-mini.pth"
    torch.save(payload, path)
    table = NB201Table.from_official(path, "cifar10")
    assert table.arch_strings == archs
    record = table.record(archs[1])
    assert record["valid_acc"] == pytest.approx(91.0)  # mean of the two seeds
    assert record["test_acc"] == pytest.approx(92.0)
    assert record["valid_acc_12ep"] == pytest.approx(81.0)
    assert record["train_time"] == pytest.approx(2000.0)
    assert "test_acc_seed" not in record
    with pytest.raises(DataError, match="not a NAS-Bench-201 file"):
        torch.save({"weights": [1, 2]}, tmp_path / "other.pth")
        NB201Table.from_official(tmp_path / "other.pth")
    assert math.isfinite(table.query(archs[0], "valid_acc"))


# -- issue 16 item 1: tables are verified on load ---------------------------------------------------
def _copy_tables(data_store, folder):
    import shutil

    folder.mkdir()
    for name in ("nb201-test", "nb201-cifar10-valid"):
        shutil.copy2(data_store.path(name), folder / data_store.entry(name).filename)
    return folder


def _edit_first_valid_accuracy(path, new: str) -> None:
    """Replace the first row's valid-accuracy field (81.98266666) by ``new``."""
    lines = path.read_text().split("\n")
    fields = lines[1].split(",")
    assert fields[13] == "81.98266666"
    fields[13] = new
    lines[1] = ",".join(fields)
    path.write_text("\n".join(lines))


def test_a_same_size_edit_of_a_table_is_caught_on_load_and_the_check_is_cached(data_store, tmp_path, monkeypatch):
    import nasspace.fetch as fetch
    from nasspace import ChecksumError
    from nasspace.fetch import DataStore

    folder = _copy_tables(data_store, tmp_path / "data")
    monkeypatch.setenv("CRLSO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(fetch, "_VERIFIED", {})
    hashed = []
    real_digests = fetch.file_digests
    monkeypatch.setattr(fetch, "file_digests", lambda path: hashed.append(path.name) or real_digests(path))
    assert NB201Table("cifar10", store=DataStore(folder)).query(ALL_SKIP, "valid_acc") > 0
    assert sorted(hashed) == ["cifar10_avg.csv", "nats_bench.csv"]
    monkeypatch.setattr(fetch, "_VERIFIED", {})  # a new process: the cache file answers, nothing is re-read
    NB201Table("cifar10", store=DataStore(folder)).metric("valid_acc")
    assert len(hashed) == 2

    _edit_first_valid_accuracy(folder / "cifar10_avg.csv", "91.98266666")  # one digit, same size
    with pytest.raises(ChecksumError, match=r"cifar10_avg\.csv.*crlso data fetch nb201-cifar10-valid --force"):
        NB201Table("cifar10", store=DataStore(folder)).metric("valid_acc")


def test_a_nan_in_a_table_is_a_load_error(data_store, tmp_path):
    from dataclasses import replace

    from nasspace.fetch import DataStore

    folder = _copy_tables(data_store, tmp_path / "data")
    _edit_first_valid_accuracy(folder / "cifar10_avg.csv", "nan")
    unchecked = {n: replace(e, sha256=None, git_blob=None, md5=None, size=None) for n, e in data_store.manifest.items()}
    table = NB201Table("cifar10", store=DataStore(folder, manifest=unchecked))  # say a hand-placed file
    with pytest.raises(DataError, match=r"cifar10_avg\.csv: valid_acc of 1 cell\(s\) is missing or not finite.*index 0"):
        table.metric("valid_acc")


def test_cifar10_valid_is_natsbench_train_split_dataset(data_store, nb201_cifar10) -> None:
    """NATS-Bench's ``cifar10-valid``: valid and test accuracy of the nets trained on the train split only."""
    from nasspace.benchmarks.nb201 import default_search_metric
    from nasspace.errors import MetricUnavailable

    table = NB201Table("cifar10-valid", store=data_store)
    assert default_search_metric("cifar10-valid") == "valid_acc"
    assert np.array_equal(table.metric("valid_acc"), nb201_cifar10.metric("valid_acc"))
    best = int(np.argmax(table.metric("valid_acc")))
    # the train-split nets test lower than the train+valid nets of `cifar10` (94.37 for the same cell)
    assert table.metric("test_acc")[best] < nb201_cifar10.metric("test_acc")[best] - 2.0
    assert 90.0 < table.metric("test_acc").max() < 92.0
    with pytest.raises(MetricUnavailable, match="not published for NB201 cifar10-valid"):
        table.metric("valid_acc_12ep")


def test_naslib_keys_name_the_cells_of_the_table(data_store, nb201_cifar10) -> None:
    """NASLib's NB201 keys (op_indices, edges in its order) against its own 200-epoch valid accuracy.

    Read in the canonical string's edge order instead, cells with a `none` on one of the two swapped
    edges would be misnamed: accuracies then differ by up to 79 points.
    """
    import ast
    import json

    space = get_space("nb201")
    with open(data_store.path("naslib-zc-nb201")) as handle:
        cells = json.load(handle)["nasbench201"]["cifar10"]
    gaps = [abs(nb201_cifar10.query(space.from_naslib(ast.literal_eval(key)), "valid_acc") - value["val_accuracy"])
            for key, value in cells.items()]
    assert len(gaps) == 491 and max(gaps) < 3.0 and np.median(gaps) < 0.5
