"""The NAS-Bench-201 tabular benchmark: every metric of every cell for one dataset.

Sources (manifest names), each read only when one of its metrics is first asked for:

=================  ==================================  =========================================
metric             cifar10                             cifar100 / ImageNet16-120
=================  ==================================  =========================================
valid_acc          nb201-cifar10-valid (cifar10-valid) nb201-cifar100-valid / -imagenet16-valid
test_acc           nb201-test (train+valid split)      nb201-test
train_time         nb201-cifar10-valid                 the same *-valid file
valid_acc_12ep     nb201-12ep                          nb201-12ep
test_acc_12ep      nb201-12ep                          nb201-12ep
test_acc_seed      nb201-seed-* with -configs          nb201-seed-* with -configs
latency:<device>   help-latency-<device> with help-str-arch2idx (every dataset; 27 devices)
=================  ==================================  =========================================

Accuracies are percentages; ``train_time`` is seconds for 200 epochs; ``latency:<device>`` is
milliseconds measured on that device (`nasspace.benchmarks.nb201_latency`). Cells are listed in the
official benchmark index order (``genotypes[i]`` is index ``i``).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nasspace.benchmarks.frame_pickle import read_frame_pickle
from nasspace.benchmarks.nb201_latency import (LATENCY_DEVICES, LATENCY_METRICS, ORDER_FILE, latency_device, latency_file,
                                               read_latency)
from nasspace.errors import DataError, GenotypeError, MetricUnavailable, OptionError
from nasspace.fetch import DataStore
from nasspace.nb201 import NB201Genotype, NB201Space
from nasspace.space import Genotype

__all__ = ["NB201_DATASETS", "NB201_METRICS", "NB201Table", "default_search_metric", "DATASET_HELP"]

NB201_DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120", "cifar10-valid")

# Which split each metric comes from, for the --dataset help of every command (NATS-Bench's names).
DATASET_HELP = (
    "cifar10 (valid_acc: the valid split of NATS-Bench's cifar10-valid, nets trained on the train split; "
    "test_acc: the test split, nets trained on train+valid), cifar10-valid (both from nets trained on the "
    "train split: valid_acc on its valid split, test_acc on the test split), cifar100 or ImageNet16-120 "
    "(valid_acc_12ep searched by default; test_acc on the test split)"
)
NB201_METRICS: tuple[str, ...] = (
    "valid_acc",
    "test_acc",
    "train_time",
    "valid_acc_12ep",
    "test_acc_12ep",
    "test_acc_seed",
)

# The metric a search sees by default: 200-epoch validation accuracy where the default fetch has it
# (cifar10), else the 12-epoch validation accuracy (the cifar100 / ImageNet16-120 200-epoch valid
# files are download-only and not in the default fetch).
_DEFAULT_SEARCH_METRIC = {"cifar10": "valid_acc", "cifar100": "valid_acc_12ep", "ImageNet16-120": "valid_acc_12ep",
                          "cifar10-valid": "valid_acc"}


def default_search_metric(dataset: str) -> str:
    """The search metric of ``dataset`` when the user names none.

    Raises:
        ValueError: unknown dataset.
    """
    if dataset not in _DEFAULT_SEARCH_METRIC:
        raise OptionError(f"unknown NB201 dataset {dataset!r}; valid: {', '.join(NB201_DATASETS)}")
    return _DEFAULT_SEARCH_METRIC[dataset]


_TEST_COLUMN = {
    "cifar10": "CIFAR10TestAccuracy200Epochs",
    "cifar100": "CIFAR100TestAccuracy200Epochs",
    "ImageNet16-120": "ImageNetTestAccuracy200Epochs",
}
_VALID_FILE = {"cifar10": "nb201-cifar10-valid", "cifar100": "nb201-cifar100-valid", "ImageNet16-120": "nb201-imagenet16-valid",
               "cifar10-valid": "nb201-cifar10-valid"}
_MINI_PREFIX = {"cifar10": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "imagenet"}
_SEED_FILE = {"cifar10": "nb201-seed-cifar10", "cifar100": "nb201-seed-cifar100", "ImageNet16-120": "nb201-seed-imagenet16"}
_SOURCE = {
    "valid_acc": "valid",
    "train_time": "valid",
    "test_acc": "test",
    "valid_acc_12ep": "mini",
    "test_acc_12ep": "mini",
    "test_acc_seed": "seed",
}


class NB201Table:
    """All NB201 metrics of one dataset, keyed by cell (`NB201_METRICS`, and ``latency:<device>``).

    Args:
        dataset: one of `NB201_DATASETS`.
        store: where the benchmark files are (default: a `DataStore` on the default data folder).

    Raises:
        ValueError: unknown dataset.
        DataError: the test-accuracy file (which fixes the cell order) is not fetched.
    """

    minimize = frozenset(("train_time", *LATENCY_METRICS))  # lower is better; higher for every other metric

    def __init__(self, dataset: str = "cifar10", *, store: DataStore | None = None):
        if dataset not in NB201_DATASETS:
            raise OptionError(f"unknown NB201 dataset {dataset!r}; valid datasets: {', '.join(NB201_DATASETS)}")
        self.dataset = dataset
        self.store = store if store is not None else DataStore()
        self._metrics: dict[str, np.ndarray] = {}
        self._loaded_sources: set[str] = set()
        self._arch_strings, test = self._read_test_file()
        self._metrics["test_acc"] = test
        self._loaded_sources.add("test")
        self._index = {s: i for i, s in enumerate(self._arch_strings)}
        self._genotypes: list[NB201Genotype] | None = None
        if dataset == "cifar10-valid":  # its test accuracy is the train-split nets', in the valid file
            self._load_source("valid")

    @classmethod
    def from_arrays(cls, dataset: str, arch_strings: list[str], metrics: Mapping[str, np.ndarray]) -> "NB201Table":
        """A table from arrays already in memory (``metrics[name]`` has one value per arch string)."""
        table = cls.__new__(cls)
        table.dataset = dataset
        table.store = None  # type: ignore[assignment]
        table._arch_strings = list(arch_strings)
        table._index = {s: i for i, s in enumerate(table._arch_strings)}
        table._genotypes = None
        table._metrics = {}
        for name, values in metrics.items():
            if name not in NB201_METRICS and name not in LATENCY_METRICS:
                raise OptionError(f"unknown NB201 metric {name!r}; valid metrics: {', '.join(NB201_METRICS)}")
            array = np.asarray(values, dtype=np.float64)
            if array.shape != (len(arch_strings),):
                raise OptionError(f"metric {name!r} has shape {array.shape}, expected ({len(arch_strings)},)")
            table._metrics[name] = array
        table._loaded_sources = set(_SOURCE.values())  # nothing more to load
        return table

    @classmethod
    def from_official(cls, path_or_dict: str | Path | dict[str, Any], dataset: str = "cifar10") -> "NB201Table":
        """The table of one dataset read from the official ``NAS-Bench-201-v1_*.pth`` through ``nas_201_api``.

        The file is read with ``torch.load(..., weights_only=True)`` and handed to the API as a dict.
        """
        from nasspace.benchmarks.nb201_official import read_official

        arch_strings, metrics = read_official(path_or_dict, dataset)
        return cls.from_arrays(dataset, arch_strings, metrics)

    # -- cells ------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._arch_strings)

    @property
    def arch_strings(self) -> list[str]:
        """Canonical strings in official index order."""
        return list(self._arch_strings)

    @property
    def genotypes(self) -> list[NB201Genotype]:
        """Genotypes in official index order (parsed once, on first use)."""
        if self._genotypes is None:
            space = NB201Space()
            self._genotypes = [space.parse(s) for s in self._arch_strings]
        return self._genotypes

    def index_of(self, genotype: Genotype | str) -> int:
        """The official index of a cell (a genotype or its canonical string)."""
        key = genotype if isinstance(genotype, str) else str(genotype)
        if key not in self._index:
            if isinstance(genotype, str):
                NB201Space().parse(genotype)  # a malformed string gets the parser's message
            raise GenotypeError(f"{key!r} is not a cell of this NB201 table")
        return self._index[key]

    # -- metrics ----------------------------------------------------------------------------------
    def available_metrics(self) -> list[str]:
        """Metrics whose source is loaded or fetched (`NB201_METRICS` first, then ``latency:<device>``)."""
        found = [m for m in NB201_METRICS if m in self._metrics or self._source_present(_SOURCE[m])]
        order_present = self.store is not None and self.store.has(ORDER_FILE)
        return found + [m for d, m in zip(LATENCY_DEVICES, LATENCY_METRICS)
                        if m in self._metrics or (order_present and self.store.has(latency_file(d)))]

    def metric(self, name: str) -> np.ndarray:
        """``(num_cells,)`` values of ``name`` in official index order (read-only view).

        Raises:
            MetricUnavailable: unknown metric, or its source file is not fetched (says how to get it).
            DataError: a fetched source file is damaged, or not in the official cell order.
        """
        device = latency_device(name)  # raises for latency:<unknown device>
        if device is not None and name not in self._metrics:
            self._load_latency(name, device)
        elif device is None and name not in NB201_METRICS:
            raise MetricUnavailable(f"unknown NB201 metric {name!r}; valid metrics: {', '.join(NB201_METRICS)}")
        if name not in self._metrics:
            self._load_source(_SOURCE[name])
        if name not in self._metrics:
            raise MetricUnavailable(f"metric {name!r} is not available for {self.dataset}")
        view = self._metrics[name].view()
        view.flags.writeable = False
        return view

    def query(self, genotype: Genotype | str, metric: str) -> float:
        """One metric of one cell."""
        return float(self.metric(metric)[self.index_of(genotype)])

    def record(self, genotype: Genotype | str) -> dict[str, Any]:
        """Every available accuracy and time metric of a cell (the `NB201_METRICS`; the ``latency:<device>`` objectives,
        which need torch to read, only through `query`), with its index and canonical string."""
        index = self.index_of(genotype)
        result: dict[str, Any] = {"index": index, "genotype": self._arch_strings[index], "dataset": self.dataset}
        for name in NB201_METRICS:
            try:
                result[name] = float(self.metric(name)[index])
            except MetricUnavailable:
                continue
        return result

    def metric_function(self, name: str) -> Callable[[Genotype], float]:
        """A function ``genotype -> value`` of one metric that holds no reference to the table."""
        values, index = self.metric(name), self._index

        def lookup(genotype: Genotype) -> float:
            key = str(genotype)
            if key not in index:
                raise GenotypeError(f"{key!r} is not a cell of the NB201 table")
            return float(values[index[key]])

        return lookup

    # -- loading ----------------------------------------------------------------------------------
    def _load_latency(self, name: str, device: str) -> None:
        """Read one device's latencies (shared by every dataset's table; cached per process)."""
        if self.store is None:
            raise MetricUnavailable(f"metric {name!r} is not available for {self.dataset}")
        if not (self.store.has(ORDER_FILE) and self.store.has(latency_file(device))):
            try:  # not fetched: unavailable, with the command that fetches it
                read_latency(self.store, device, self._arch_strings)
            except DataError as exc:
                raise MetricUnavailable(f"{exc}") from None
        self._metrics[name] = read_latency(self.store, device, self._arch_strings)

    def _source_present(self, source: str) -> bool:
        if source in self._loaded_sources:
            return True
        if self.store is None:
            return False
        if (source == "mini" and self.dataset not in _MINI_PREFIX) or (source == "seed" and self.dataset not in _SEED_FILE):
            return False
        needs = {
            "valid": [_VALID_FILE[self.dataset]],
            "mini": ["nb201-12ep"],
            "seed": [_SEED_FILE.get(self.dataset, ""), "nb201-seed-configs"],
            "test": ["nb201-test"],
        }[source]
        return all(self.store.has(n) for n in needs)

    def _load_source(self, source: str) -> None:
        if source in self._loaded_sources:
            return
        if not self._source_present(source):  # not fetched: unavailable, with how to get it
            try:
                self._read_source(source)
            except DataError as exc:
                raise MetricUnavailable(f"{exc}") from None
        self._read_source(source)  # fetched: a damaged or incomplete file is a DataError, not "unavailable"
        self._loaded_sources.add(source)

    def _read_source(self, source: str) -> None:
        if (source == "mini" and self.dataset not in _MINI_PREFIX) or (source == "seed" and self.dataset not in _SEED_FILE):
            names = "valid_acc_12ep and test_acc_12ep" if source == "mini" else "test_acc_seed"
            raise DataError(f"{names} are not published for NB201 {self.dataset}; use --dataset cifar10 for them")
        if source == "valid":
            self._read_valid_file()
        elif source == "mini":
            self._read_mini_file()
        elif source == "seed":
            self._read_seed_files()

    def _read_test_file(self) -> tuple[list[str], np.ndarray]:
        path = self.store.path("nb201-test")
        column = _TEST_COLUMN.get(self.dataset, _TEST_COLUMN["cifar10"])  # cifar10-valid: replaced from its valid file
        header, rows = _read_csv(path, ("ArchitectureString", column))
        arch_strings = [row[header["ArchitectureString"]] for row in rows]
        try:
            array = np.asarray([row[header[column]] for row in rows], dtype=np.float64)
        except ValueError as exc:
            raise DataError(f"{path.name}: column {column} holds a non-number ({exc})") from None
        return arch_strings, _complete(array, "test_acc", arch_strings, path)

    def _read_valid_file(self) -> None:
        path = self.store.path(_VALID_FILE[self.dataset])
        with_test = self.dataset == "cifar10-valid"
        columns = ("arch_str", "index", "valid-accuracy", "train-all-time") + (("test-accuracy",) if with_test else ())
        header, rows = _read_csv(path, columns)
        arch, index, valid_col, time_col = (header[c] for c in columns[:4])
        test_col = header["test-accuracy"] if with_test else None
        valid, time, test = np.full(len(self), np.nan), np.full(len(self), np.nan), np.full(len(self), np.nan)
        for row in rows:
            try:
                i = self._aligned_index(row[arch], int(row[index]), path)
                valid[i], time[i] = float(row[valid_col]), float(row[time_col])
                if test_col is not None:
                    test[i] = float(row[test_col])
            except (IndexError, TypeError, ValueError) as exc:
                raise DataError(f"{path.name}: bad row for {row[arch] if row else None!r} ({exc})") from None
        self._metrics["valid_acc"] = _complete(valid, "valid_acc", self._arch_strings, path)
        self._metrics["train_time"] = _complete(time, "train_time", self._arch_strings, path)
        if with_test:  # the train-split nets' test accuracy (cifar10's comes from nb201-test)
            self._metrics["test_acc"] = _complete(test, "test_acc", self._arch_strings, path)

    def _read_mini_file(self) -> None:
        path = self.store.path("nb201-12ep")
        columns = read_frame_pickle(path.read_bytes())
        order = np.asarray([self._aligned_index(str(s), None, path) for s in columns["cellstr"]])
        prefix = _MINI_PREFIX[self.dataset]
        for metric, column in (("valid_acc_12ep", f"{prefix}-val"), ("test_acc_12ep", f"{prefix}-test")):
            values = np.full(len(self), np.nan)
            values[order] = columns[column].astype(np.float64)
            self._metrics[metric] = _complete(values, metric, self._arch_strings, path)

    def _read_seed_files(self) -> None:
        configs = self.store.path("nb201-seed-configs").read_text().split()
        array_path = self.store.path(_SEED_FILE[self.dataset])
        accs = np.load(array_path, allow_pickle=False)
        if accs.shape != (len(configs),):
            raise DataError(f"{array_path.name} has shape {accs.shape}, but configs.txt lists {len(configs)} cells")
        values = np.full(len(self), np.nan)
        values[[self._aligned_index(s, None, array_path) for s in configs]] = accs
        self._metrics["test_acc_seed"] = _complete(values, "test_acc_seed", self._arch_strings, array_path)

    def _aligned_index(self, arch: str, index: int | None, path: Path) -> int:
        position = self._index.get(arch)
        if position is None or (index is not None and position != index):
            raise DataError(f"{path.name}: cell {arch!r} does not match the official index order")
        return position


def _read_csv(path: Path, needed: Sequence[str]) -> tuple[dict[str, int], list[list[str]]]:
    """``({column: position}, rows)`` of a CSV file (a plain reader: twice as fast as ``csv.DictReader``).

    Raises:
        DataError: a column in ``needed`` is missing from the header.
    """
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = {name: i for i, name in enumerate(next(reader, []))}
        missing = [c for c in needed if c not in header]
        if missing:
            raise DataError(f"{path.name}: no column {', '.join(missing)} (has {', '.join(header) or 'nothing'})")
        return header, list(reader)


def _complete(values: np.ndarray, metric: str, arch_strings: list[str], path: Path) -> np.ndarray:
    """``values`` when every cell has a finite value.

    Raises:
        DataError: a cell is NaN or infinite (missing from ``path``, or written so), naming the first one.
    """
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise DataError(f"{path.name}: {metric} of {bad.size} cell(s) is missing or not finite, first "
                        f"{arch_strings[bad[0]]!r} (index {bad[0]}); a table must answer every cell")
    return values


def _register_tables() -> None:
    from nasspace.benchmarks.registry import TableSpec, register_table

    notes = {"valid_acc": "200-epoch validation accuracy, %, higher is better",
             "valid_acc_12ep": "12-epoch validation accuracy, %, higher is better",
             "test_acc": "200-epoch test accuracy, %, higher is better",
             "train_time": "seconds to train 200 epochs, lower is better",
             **{m: f"latency measured on {d} (HELP), ms, lower is better"
                for d, m in zip(LATENCY_DEVICES, LATENCY_METRICS)}}
    for dataset in NB201_DATASETS:
        register_table(TableSpec(
            space="nb201", dataset=dataset, load=lambda data_dir, d=dataset: NB201Table(d, store=DataStore(data_dir)),
            search_metric=default_search_metric(dataset), report_metric="test_acc", num_cells=15_625,
            objectives=LATENCY_METRICS, minimize=("train_time", *LATENCY_METRICS), metrics=notes,
            sources=("nb201-test", _VALID_FILE[dataset])))


_register_tables()
