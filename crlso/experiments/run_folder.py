"""What makes a run folder trustworthy: its log read strictly, replayed values checked, one writer at a time.

- `read_queries`: every line of ``queries.jsonl`` must be a complete JSON object; only a torn *last*
  line (no trailing newline: the process was killed mid-write) is dropped, and cut from the file.
  Any other bad line (blank, unparsable, not an object, missing keys) raises `RunLogError` naming
  the file and the line, and the file is left as it is.
- `check_logged`: on resume, each logged value is compared with the oracle's table; an edited or
  foreign value is refused with its line number instead of becoming the run's best.
- `lock_run_folder`: an exclusive ``fcntl.flock`` on ``<folder>/.lock``, held while the run writes;
  a second writer gets `RunFolderBusy` at once. The lock dies with its process (no stale locks).
- `read_json_file`: a ``config.json`` / ``summary.json`` that does not parse names itself.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from nasspace.atomic import folder_lock
from nasspace.errors import FolderBusy
from crlso.errors import RunFolderBusy, RunFolderError, RunLogError

__all__ = ["RunFolderError", "RunLogError", "RunFolderBusy", "read_queries", "check_logged", "lock_run_folder",
           "read_json_file", "remove_stale_temporaries", "LOG_KEYS"]

# Keys every ``queries.jsonl`` line carries (provenance keys come beside them).
LOG_KEYS: tuple[str, ...] = ("step", "genotype", "value")


def _loads(text: str | bytes) -> Any:
    """``json.loads`` whose every failure (bad syntax, bad UTF-8, nesting too deep) is a ValueError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise RunLogError("JSON nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise RunLogError(f"not UTF-8 ({exc.reason})") from None


def read_json_file(path: str | Path) -> Any:
    """The JSON content of ``path``.

    Raises:
        RunFolderError: it does not parse (names the file and the parser's reason).
    """
    path = Path(path)
    try:
        return _loads(path.read_bytes())
    except ValueError as exc:
        raise RunFolderError(f"{path} is not valid JSON ({exc}); restore or delete it") from None


def read_queries(path: str | Path) -> list[dict[str, Any]]:
    """The records of a ``queries.jsonl`` (record ``i`` is line ``i + 1``).

    A torn last line (no trailing newline) is dropped and cut from the file so appends continue cleanly.

    Raises:
        RunLogError: any other line is not a JSON object with ``step``, ``genotype`` and ``value``
            (the file is not modified).
    """
    path = Path(path)
    if not path.exists():
        return []
    raw = path.read_bytes()
    lines = raw.splitlines(keepends=True)
    torn = bool(lines) and not lines[-1].endswith(b"\n")
    complete = lines[:-1] if torn else lines
    records = []
    for number, line in enumerate(complete, start=1):
        try:
            record = _loads(line)
        except ValueError as exc:
            raise RunLogError(f"{path}:{number}: not a JSON line ({exc}); only a torn last line may be dropped, "
                              "so fix or delete the line (the file was not changed)") from None
        if not isinstance(record, dict) or any(key not in record for key in LOG_KEYS):
            raise RunLogError(f"{path}:{number}: a query line needs the keys {', '.join(LOG_KEYS)} "
                              "(the file was not changed)")
        records.append(record)
    if torn:
        with open(path, "r+b") as handle:
            handle.truncate(len(raw) - len(lines[-1]))
    return records


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def check_logged(records: Sequence[dict[str, Any]], path: str | Path, *, space: Any, table: Any = None,
                 metric: str = "valid_acc", cost_metric: str = "train_time") -> list[tuple[Any, float, float]]:
    """``(genotype, value, cost)`` of each logged record, checked before they are replayed.

    Each record must have ``step`` equal to its line number, a genotype of ``space``, and a finite
    value; with ``table`` its value (and its cost, when the table has ``cost_metric``) must be the
    table's. Equality is exact: the log holds the table's float as JSON, which round-trips.

    Raises:
        RunLogError: naming the file and line of the first record that fails.
    """
    has_cost = table is not None and cost_metric in table.available_metrics()
    out = []
    for number, record in enumerate(records, start=1):
        where = f"{path}:{number}"
        if record["step"] != number:
            raise RunLogError(f"{where}: step {record['step']!r} where step {number} belongs; the log was reordered or edited")
        try:
            genotype = space.parse(str(record["genotype"]))
        except ValueError as exc:
            raise RunLogError(f"{where}: bad genotype: {exc}") from None
        value, cost = _number(record["value"]), _number(record.get("cost", 0.0))
        if value is None or not math.isfinite(value) or cost is None or not math.isfinite(cost):
            raise RunLogError(f"{where}: value and cost must be finite numbers, got {record['value']!r} and {record.get('cost')!r}")
        if table is not None:
            try:
                truth = table.query(genotype, metric)
            except ValueError as exc:
                raise RunLogError(f"{where}: {exc}") from None
            if value != truth:
                raise RunLogError(f"{where}: logged {metric} {value!r} of {genotype} differs from the table's {truth!r}; "
                                  "the log was edited or comes from other data (delete the line and what follows to re-run it)")
            if has_cost and cost != table.query(genotype, cost_metric):
                raise RunLogError(f"{where}: logged cost {cost!r} of {genotype} differs from the table's "
                                  f"{table.query(genotype, cost_metric)!r}")
        out.append((genotype, value, cost))
    return out


@contextlib.contextmanager
def lock_run_folder(folder: str | Path) -> Iterator[Path]:
    """Hold an exclusive lock on ``folder`` (created if needed) while the block runs (`nasspace.atomic.folder_lock`).

    Raises:
        RunFolderBusy: another process holds it.
    """
    try:
        with folder_lock(folder) as path:
            yield path
    except FolderBusy as exc:
        raise RunFolderBusy(str(exc)) from None


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the ``.<name>.*.tmp`` files an atomic write killed mid-way left in ``folder`` (call under the lock)."""
    removed = []
    for tmp in Path(folder).glob(".*.tmp"):
        if tmp.is_file():
            with contextlib.suppress(OSError):
                os.unlink(tmp)
                removed.append(tmp)
    return removed
