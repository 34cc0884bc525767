"""Measured latency of every NAS-Bench-201 cell on 27 devices (the files of HELP, Lee et al. 2021).

Each device file (manifest ``help-latency-<device>``) is a torch zip holding one list of 15,625 latencies
in milliseconds (integer ms for the phones), in the official NB201 index order; ``help-str-arch2idx`` maps
each arch string to its row. Before a device file is used, that mapping is checked against the NB201
table's own order (string ``i`` of the table must map to row ``i``), so a file in another order is an
error, never a silent mix-up. The latency does not depend on the dataset: every NB201 table exposes
these as ``latency:<device>`` (lower is better).

torch is imported here, on demand, only when a file is read; the rest of nasspace stays torch-free.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nasspace.errors import DataError, MetricUnavailable
from nasspace.fetch import DataStore

__all__ = ["LATENCY_DEVICES", "LATENCY_METRICS", "LATENCY_PREFIX", "ORDER_FILE", "latency_file",
           "latency_device", "check_order", "read_latency", "unknown_device_message"]

LATENCY_PREFIX = "latency:"
ORDER_FILE = "help-str-arch2idx"
LATENCY_DEVICES: tuple[str, ...] = (
    "1080ti_1", "1080ti_256", "1080ti_32", "2080ti_1", "2080ti_256", "2080ti_32", "essential_ph_1", "eyeriss",
    "fpga", "gold_6226", "gold_6240", "pixel2", "pixel3", "raspi4", "samsung_a50", "samsung_s7", "silver_4114",
    "silver_4210r", "titan_rtx_1", "titan_rtx_256", "titan_rtx_32", "titanx_1", "titanx_256", "titanx_32",
    "titanxp_1", "titanxp_256", "titanxp_32",
)
LATENCY_METRICS: tuple[str, ...] = tuple(f"{LATENCY_PREFIX}{d}" for d in LATENCY_DEVICES)

# (resolved path, size, mtime_ns) -> values; (mapping file stamp, digest of the order) of checks passed.
_VALUES: dict[tuple[str, int, int], np.ndarray] = {}
_ORDER_CHECKED: set[tuple[tuple[str, int, int], str]] = set()


def latency_file(device: str) -> str:
    """The manifest name of a device's file."""
    return f"help-latency-{device}"


def unknown_device_message(name: str) -> str:
    return (f"unknown NB201 latency metric {name!r}; valid: latency:<device> with device one of "
            f"{', '.join(LATENCY_DEVICES)}")


def latency_device(name: str) -> str | None:
    """The device of a ``latency:<device>`` metric name; None for a name that is no latency metric.

    Raises:
        MetricUnavailable: ``latency`` or ``latency:<unknown>`` (one line listing the devices).
    """
    if name != "latency" and not name.startswith(LATENCY_PREFIX):
        return None
    device = name[len(LATENCY_PREFIX):]
    if device not in LATENCY_DEVICES:
        raise MetricUnavailable(unknown_device_message(name))
    return device


def check_order(mapping: Any, arch_strings: Sequence[str], source: str = "str_arch2idx") -> None:
    """Check that ``mapping`` (arch string -> row) sends ``arch_strings[i]`` to ``i`` for every ``i``, and
    holds nothing else.

    Raises:
        DataError: one line naming the first string that disagrees (in official order), with both rows.
    """
    if not isinstance(mapping, Mapping):
        raise DataError(f"{source}: expected a dict of arch string -> row, found {type(mapping).__name__}")
    for i, arch in enumerate(arch_strings):
        row = mapping.get(arch)
        if row is None:
            raise DataError(f"{source}: the NB201 cell {arch!r} (official index {i}) has no row; "
                            "the latency files cannot be aligned with the table")
        if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or int(row) != i:
            raise DataError(f"{source}: cell {arch!r} maps to row {row!r}, but its official NB201 index is {i}; "
                            "the latency files are not in the table's order")
    if len(mapping) != len(arch_strings):
        known = set(arch_strings)
        extra = next((k for k in mapping if k not in known), None)
        raise DataError(f"{source}: holds {len(mapping)} cells, the NB201 table {len(arch_strings)}; "
                        f"first one not in the table: {extra!r}")


def read_latency(store: DataStore, device: str, arch_strings: Sequence[str]) -> np.ndarray:
    """``(15625,)`` read-only latencies (ms) of every NB201 cell on ``device``, in official index order.

    The order is checked first (`check_order`) against ``arch_strings`` (the NB201 table's, in official index
    order). Values are cached per process, keyed by the file and its size and modification time.

    Raises:
        MetricUnavailable: unknown device (lists the devices).
        DataError: a file is not fetched (says how to get it), is damaged, disagrees with the official
            order, or holds a count other than one finite positive number per cell.
    """
    if device not in LATENCY_DEVICES:
        raise MetricUnavailable(unknown_device_message(f"{LATENCY_PREFIX}{device}"))
    order_path = store.path(ORDER_FILE)
    path = store.path(latency_file(device))
    order_key = (_stamp(order_path), hashlib.sha256("\n".join(arch_strings).encode()).hexdigest())
    if order_key not in _ORDER_CHECKED:
        check_order(_torch_load(order_path), arch_strings, order_path.name)
        _ORDER_CHECKED.add(order_key)
    key = _stamp(path)
    if key not in _VALUES:
        _VALUES[key] = _as_latencies(_torch_load(path), len(arch_strings), f"{path.parent.name}/{path.name}")
    return _VALUES[key]


def _stamp(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def _torch_load(path: Path) -> Any:
    try:
        import torch
    except ImportError as exc:
        raise DataError(f"reading {path.name} needs torch ({exc})") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors come in many types
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot read {path.name} as a torch file: {first_line}") from None


def _as_latencies(raw: Any, count: int, name: str) -> np.ndarray:
    if hasattr(raw, "detach"):  # a tensor
        raw = raw.detach().cpu().numpy()
    try:
        values = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: expected a list of numbers ({exc})") from None
    if values.shape != (count,):
        raise DataError(f"{name}: holds shape {values.shape}, expected ({count},), one latency per NB201 cell")
    bad = np.flatnonzero(~(np.isfinite(values) & (values > 0)))
    if bad.size:
        raise DataError(f"{name}: {bad.size} latency value(s) are not finite positive numbers, first at index "
                        f"{bad[0]} ({values[bad[0]]})")
    values.flags.writeable = False
    return values
