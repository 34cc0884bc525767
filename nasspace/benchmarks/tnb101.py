"""TransNAS-Bench-101 micro tables: one `ArrayTable` per task, all 4,096 cells of ``tnb101-micro``.

The numbers come from NASLib's zero-cost benchmark archive ``all_benchmarks_zen.zip`` (manifest entry
``naslib-zen-tnb101``): for each task, files ``zen/benchmark--transbench101_micro--TASK--OFFSET.json``, each a
JSON list of ``{idx, arch, val_accuracy, zen: {score, time}}`` where ``arch`` is NASLib's op-index tuple (see
`nasspace.tnb101` for its encoding). A task's files are merged and must hold every cell exactly once.

Metrics of every table (rows in the space's enumeration order, the first edge slowest):

- ``valid_metric``: the task's validation metric as TransNAS-Bench records it (NASLib's ``VAL_ACCURACY``);
  what the number is differs by task, see `TNB101_VALID_NOTES`; higher is better for every task.
  TransNAS-Bench has a test split but this archive carries only the validation number, so the tables search
  and report it.
- ``zen_score``: the Zen-NAS zero-cost score NASLib computed at initialization, a ranking feature only;
  ``-1e8`` is NASLib's value for the 169 cells whose output is identically zero.

The archive is read straight from the verified file (no extraction) and parsed once per process and data
folder; its seven tables share one list of genotypes.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from nasspace.benchmarks.table import ArrayTable
from nasspace.errors import DataError
from nasspace.fetch import DataStore
from nasspace.tnb101 import TNB101_EDGES, TNB101_MICRO, TNB101_OPS, TNB101_SIZE

__all__ = ["TNB101_TASKS", "TNB101_SOURCE", "TNB101_VALID_NOTES", "ZEN_SCORE_NOTE", "TNB101_METRIC_NOTES",
           "read_tnb101_zip", "load_tnb101_table"]

TNB101_TASKS: tuple[str, ...] = ("class_scene", "class_object", "room_layout", "jigsaw", "segmentsemantic", "normal",
                                 "autoencoder")
TNB101_SOURCE = "naslib-zen-tnb101"

TNB101_VALID_NOTES: dict[str, str] = {
    "class_scene": "validation top-1 accuracy, % (scene classification, 63 classes; TransNAS valid_top1), "
                   "higher is better",
    "class_object": "validation top-1 accuracy, % (object classification, 100 classes; TransNAS valid_top1), "
                    "higher is better",
    "room_layout": "negative validation L2 loss of the room-layout regression (TransNAS valid_neg_loss, <= 0), "
                   "higher is better (closer to 0)",
    "jigsaw": "validation top-1 accuracy, % (jigsaw permutation classification, 1000 classes; TransNAS valid_top1), "
              "higher is better",
    "segmentsemantic": "validation pixel accuracy, % (semantic segmentation; TransNAS valid_acc, not mIoU), "
                       "higher is better",
    "normal": "validation SSIM of the predicted surface-normal image, 0..1 (TransNAS valid_ssim), higher is better",
    "autoencoder": "validation SSIM of the reconstructed image, 0..1 (TransNAS valid_ssim), higher is better",
}
"""What ``valid_metric`` is, per task (one line each)."""

ZEN_SCORE_NOTE = ("Zen-NAS zero-cost score at initialization (NASLib), for ranking features only; -1e8 marks a cell "
                  "whose output is identically zero; higher is better")

TNB101_METRIC_NOTES: dict[str, dict[str, str]] = {
    task: {"valid_metric": note, "zen_score": ZEN_SCORE_NOTE} for task, note in TNB101_VALID_NOTES.items()}
"""Per task: metric -> one line (the `TableSpec.metrics` of its table)."""

_MEMBER = re.compile(r"zen/benchmark--transbench101_micro--([A-Za-z_]+)--(\d+)\.json")
_NUM_OPS, _NUM_EDGES = len(TNB101_OPS), len(TNB101_EDGES)
_WEIGHTS = _NUM_OPS ** np.arange(_NUM_EDGES - 1, -1, -1)  # row of a cell: its codes read as a base-4 number


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _row_of(arch: Any, where: str) -> int:
    """The table row of a NASLib ``arch`` (a tuple of codes, or its string form ``"(2, 3, 2, 3, 2, 3)"``)."""
    codes: Any = arch
    if isinstance(arch, str):
        text = arch.strip()
        if not (text.startswith(("(", "[")) and text.endswith((")", "]"))):
            raise DataError(f"{where}: arch {arch!r} is not a tuple of {_NUM_EDGES} op codes")
        try:
            codes = [int(t) for t in text[1:-1].split(",") if t.strip()]
        except ValueError:
            raise DataError(f"{where}: arch {arch!r} is not a tuple of {_NUM_EDGES} op codes") from None
    if (not isinstance(codes, (list, tuple)) or len(codes) != _NUM_EDGES
            or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c < _NUM_OPS for c in codes)):
        raise DataError(f"{where}: arch {arch!r} is not {_NUM_EDGES} op codes in 0..{_NUM_OPS - 1}")
    return int(np.dot(_WEIGHTS, codes))


def _number(value: Any, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"{where}: {what} is {value!r}, not a finite number")
    return float(value)


def read_tnb101_zip(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Every task's metrics from the archive: task -> {``valid_metric``, ``zen_score``} -> ``(4096,)`` values,
    row ``r`` holding the cell whose op codes read as a base-4 number (first edge most significant) are ``r``.

    Raises:
        DataError: (one line, naming the file) the zip or a member is unreadable, a record is malformed, a task is
            missing, or a task does not hold exactly 4,096 distinct cells.
    """
    path = Path(path)
    name = path.name
    values = {task: np.full((2, TNB101_SIZE), np.nan) for task in TNB101_TASKS}
    seen: dict[str, dict[int, str]] = {task: {} for task in TNB101_TASKS}
    try:
        with zipfile.ZipFile(path) as archive:
            members = [(m, _MEMBER.fullmatch(m)) for m in archive.namelist()]
            for member, match in members:
                if match is None or match.group(1) not in values:
                    continue
                task = match.group(1)
                try:
                    records = json.loads(archive.read(member))
                except (ValueError, UnicodeDecodeError) as exc:
                    raise DataError(f"{name}: member {member} is not valid JSON ({_one_line(exc)})") from None
                if not isinstance(records, list):
                    raise DataError(f"{name}: member {member} holds a {type(records).__name__}, not a list of records")
                for i, record in enumerate(records):
                    where = f"{name}: {member} record {i}"
                    if not isinstance(record, dict) or not isinstance(record.get("zen"), dict):
                        raise DataError(f"{where} is not an object with 'arch', 'val_accuracy' and 'zen'")
                    row = _row_of(record.get("arch"), where)
                    if row in seen[task]:
                        raise DataError(f"{name}: task {task} lists cell {record.get('arch')} twice "
                                        f"({seen[task][row]} and {member})")
                    seen[task][row] = member
                    values[task][0, row] = _number(record.get("val_accuracy"), "val_accuracy", where)
                    values[task][1, row] = _number(record["zen"].get("score"), "zen score", where)
    except DataError:
        raise
    # RuntimeError: an encrypted member, or (NotImplementedError) an unsupported compression method
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError) as exc:
        raise DataError(f"{name}: not a readable zip archive ({_one_line(exc)})") from None
    counts = {task: len(rows) for task, rows in seen.items()}
    bad = {task: n for task, n in counts.items() if n != TNB101_SIZE}
    if bad:
        listed = ", ".join(f"{task} {n}" for task, n in bad.items())
        raise DataError(f"{name}: every TransNAS micro task needs exactly {TNB101_SIZE} distinct cells; got {listed}")
    return {task: {"valid_metric": v[0], "zen_score": v[1]} for task, v in values.items()}


@lru_cache(maxsize=4)
def _tables(data_dir: str | None) -> Mapping[str, ArrayTable]:
    """The seven tables of one data folder (parsed once per process and folder)."""
    path = DataStore(data_dir).path(TNB101_SOURCE)
    metrics = read_tnb101_zip(path)
    genotypes = list(TNB101_MICRO.enumerate())
    return {task: ArrayTable(TNB101_MICRO, task, genotypes, metrics[task]) for task in TNB101_TASKS}


def load_tnb101_table(task: str, data_dir: str | None = None) -> ArrayTable:
    """The ``tnb101-micro`` table of one task.

    Raises:
        DataError: an unknown task (lists the valid ones), the archive is not fetched (says how), or it is damaged.
    """
    if task not in TNB101_TASKS:
        raise DataError(f"TransNAS-Bench-101 has no task {task!r}; valid: {', '.join(TNB101_TASKS)}")
    return _tables(None if data_dir is None else str(data_dir))[task]


def _register_tables() -> None:
    from nasspace.benchmarks.registry import TableSpec, register_table

    for task in TNB101_TASKS:
        register_table(TableSpec(
            space=TNB101_MICRO.name, dataset=task, load=lambda data_dir, t=task: load_tnb101_table(t, data_dir),
            search_metric="valid_metric", report_metric="valid_metric", num_cells=TNB101_SIZE,
            metrics=TNB101_METRIC_NOTES[task], sources=(TNB101_SOURCE,)), replace=True)


_register_tables()
