"""Genotype lists in and rankings out.

Reading (`read_genotypes`): a JSON list (of genotype objects or canonical strings), JSONL (one
object or JSON string a line), or plain text (one canonical string a line); an object without a
``space`` field is read as the space's own fields (nb101: ``{"matrix": ..., "ops": ...}``) and a JSON
array as a key in the space's string syntax (NASLib's nb101 tuple); blank lines and
lines starting with ``#`` are ignored. A bad entry is a `BadLine` with its 1-based line number
(item number for a JSON list), never silently dropped: the caller decides to fail or skip.

`write_ranking` writes ranked rows as CSV or JSONL, atomically.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from nasspace import Genotype
from nasspace.errors import GenotypeError
from nasspace.space import genotype_from_json, get_space, parse_genotype
from crlso.errors import InputError, MissingFileError

__all__ = ["BadLine", "InputFormatError", "INPUT_FORMATS", "read_genotypes", "write_ranking"]

INPUT_FORMATS = ("auto", "json", "jsonl", "text")


@dataclass(frozen=True)
class BadLine:
    """An input entry that is not a genotype: its 1-based line (or item) number and why."""

    line: int
    text: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason} ({self.text[:80]!r})"


class InputFormatError(InputError):
    """The input file as a whole cannot be read in the chosen format."""


def _genotype(entry: object, space: str) -> Genotype:
    if isinstance(entry, str):
        return parse_genotype(entry.strip(), space)
    if isinstance(entry, dict) and "space" not in entry:  # the space's own fields, e.g. nb101 {"matrix", "ops"}
        return get_space(space).from_fields(entry)
    if isinstance(entry, list):  # a key given as a JSON array, e.g. NASLib's nb101 tuple
        return parse_genotype(json.dumps(entry), space)
    if isinstance(entry, dict):
        genotype = genotype_from_json(entry)
        if genotype.space_name != space:
            raise GenotypeError(f"genotype of space {genotype.space_name!r}, expected {space!r}")
        return genotype
    raise GenotypeError(f"expected a genotype object or string, got {type(entry).__name__}")


def _detect(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix == ".jsonl":
        return "jsonl"
    return "json" if text.lstrip().startswith("[") else "text"


def read_genotypes(path: str | Path, *, space: str = "nb201", fmt: str = "auto") -> tuple[list[tuple[int, Genotype]], list[BadLine]]:
    """Genotypes of a file, each with its line number, and the entries that are not genotypes.

    Args:
        path: the input file.
        space: space of canonical strings (JSON objects name their own; it must be this one).
        fmt: one of `INPUT_FORMATS` (``auto``: by suffix, else a leading ``[`` means JSON).

    Raises:
        ValueError: unknown ``fmt`` (lists the valid ones).
        InputFormatError: a JSON file that is not a JSON list.
        FileNotFoundError: no file at ``path``.
    """
    if fmt not in INPUT_FORMATS:
        raise InputError(f"unknown input format {fmt!r}; valid: {', '.join(INPUT_FORMATS)}")
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"no input file at {path}")
    text = path.read_text()
    fmt = _detect(path, text) if fmt == "auto" else fmt
    good: list[tuple[int, Genotype]] = []
    bad: list[BadLine] = []
    if fmt == "json":
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputFormatError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
        except RecursionError:
            raise InputFormatError(f"{path} is JSON nested too deeply to be a list of genotypes") from None
        if not isinstance(items, list):
            raise InputFormatError(f"{path} must hold a JSON list of genotypes")
        for number, item in enumerate(items, start=1):
            try:
                good.append((number, _genotype(item, space)))
            except (GenotypeError, ValueError) as exc:
                bad.append(BadLine(number, json.dumps(item), str(exc)))
        return good, bad
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            entry: object = json.loads(stripped) if fmt == "jsonl" else stripped
            good.append((number, _genotype(entry, space)))
        except json.JSONDecodeError as exc:
            bad.append(BadLine(number, stripped, f"not valid JSON: {exc.msg}"))
        except RecursionError:
            bad.append(BadLine(number, stripped[:80], "JSON nested too deeply"))
        except (GenotypeError, ValueError) as exc:
            bad.append(BadLine(number, stripped, str(exc)))
    return good, bad



def write_ranking(path: str | Path, rows: list[dict], *, fmt: str | None = None) -> Path:
    """Write ranked ``rows`` (dicts with the same keys) as CSV or JSONL, atomically.

    ``fmt`` is ``csv`` or ``jsonl``; None picks it from the suffix (``.csv``, else JSONL).
    """
    from nasspace.atomic import write_text_atomic

    path = Path(path)
    fmt = fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    if fmt not in ("csv", "jsonl"):
        raise InputError(f"unknown output format {fmt!r}; valid: csv, jsonl")
    if fmt == "jsonl":
        return write_text_atomic(path, "".join(json.dumps(row) + "\n" for row in rows))
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return write_text_atomic(path, buffer.getvalue())
