"""Predictor-based ranking: rank metrics, reading genotype lists, scoring with a trained latent model.

Metrics (higher score = better architecture):

- `kendall_tau`: Kendall's tau-b (ties corrected), ``scipy.stats.kendalltau`` (O(n log n): 15,625
  cells in milliseconds).
- `spearman_rho`: Spearman's rho with average ranks for ties, ``scipy.stats.spearmanr``.
- `precision_at_k`: the fraction of the ``k`` best-predicted items (ties broken by input order)
  that are in the true top ``k``; the true top ``k`` holds every item whose true value is at
  least the ``k``-th largest true value (so ties at the boundary count as hits).

Reading (`read_genotypes`): a JSON list (of genotype objects or canonical strings), JSONL (one
object or JSON string a line), or plain text (one canonical string a line); an object without a
``space`` field is read as the space's own fields (nb101: ``{"matrix": ..., "ops": ...}``) and a JSON
array as a key in the space's string syntax (NASLib's nb101 tuple); blank lines and
lines starting with ``#`` are ignored. A bad entry is a `BadLine` with its 1-based line number
(item number for a JSON list), never silently dropped: the caller decides to fail or skip.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nasspace import Genotype
from nasspace.errors import GenotypeError
from nasspace.space import genotype_from_json, get_space, parse_genotype

__all__ = [
    "kendall_tau",
    "spearman_rho",
    "precision_at_k",
    "average_ranks",
    "BadLine",
    "InputFormatError",
    "INPUT_FORMATS",
    "read_genotypes",
    "SCORERS",
    "score_genotypes",
    "write_ranking",
]

INPUT_FORMATS = ("auto", "json", "jsonl", "text")
SCORERS = ("icnn", "predictor", "mean")


# -- metrics --------------------------------------------------------------------------------------
def _check_pair(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, true = np.asarray(pred, dtype=np.float64).ravel(), np.asarray(true, dtype=np.float64).ravel()
    if pred.shape != true.shape:
        raise ValueError(f"predicted and true values differ in length: {pred.size} vs {true.size}")
    if pred.size < 2:
        raise ValueError("rank metrics need at least 2 items")
    return pred, true


def kendall_tau(pred: np.ndarray, true: np.ndarray) -> float:
    """Kendall's tau-b of ``pred (n,)`` against ``true (n,)`` (nan if either is constant)."""
    from scipy import stats

    pred, true = _check_pair(pred, true)
    return float(stats.kendalltau(pred, true).statistic)


def average_ranks(values: np.ndarray) -> np.ndarray:
    """``(n,)`` 1-based ranks of ``values (n,)`` (smallest first), tied values sharing their mean rank."""
    values = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    last = np.r_[first[1:], values.size] - 1
    ranks = np.empty(values.size)
    ranks[order] = (first[group] + last[group]) / 2 + 1
    return ranks


def spearman_rho(pred: np.ndarray, true: np.ndarray) -> float:
    """Spearman's rho of ``pred (n,)`` against ``true (n,)`` (average ranks for ties; nan if either is constant)."""
    from scipy import stats

    pred, true = _check_pair(pred, true)
    if np.ptp(pred) == 0 or np.ptp(true) == 0:
        return float("nan")
    return float(stats.spearmanr(pred, true).statistic)


def precision_at_k(pred: np.ndarray, true: np.ndarray, k: int = 50) -> float:
    """Fraction of the top-``k`` predicted that are in the true top ``k`` (see the module doc)."""
    pred, true = _check_pair(pred, true)
    if not 1 <= k <= pred.size:
        raise ValueError(f"k must be in 1..{pred.size}, got {k}")
    top_pred = np.argsort(-pred, kind="stable")[:k]
    threshold = np.sort(true)[::-1][k - 1]
    return float((true[top_pred] >= threshold).sum() / k)


# -- reading --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BadLine:
    """An input entry that is not a genotype: its 1-based line (or item) number and why."""

    line: int
    text: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason} ({self.text[:80]!r})"


class InputFormatError(ValueError):
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
        raise ValueError(f"unknown input format {fmt!r}; valid: {', '.join(INPUT_FORMATS)}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no input file at {path}")
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


# -- scoring --------------------------------------------------------------------------------------
@torch.no_grad()
def score_genotypes(models: dict[str, torch.nn.Module], genotypes: Sequence[Genotype], *, chunk: int = 4096) -> dict[str, np.ndarray]:
    """Predicted accuracy (percent, higher is better) of each genotype by each available head.

    Args:
        models: from `crlso.models.checkpoints.load_models`: ``vae`` + ``icnn`` and/or ``predictor``.
        genotypes: ``G`` genotypes of the models' space.

    Returns:
        ``{"icnn": (G,), "predictor": (G,), "mean": (G,)}`` for the heads present (``mean``
        averages the two when both are).

    Raises:
        ValueError: the models hold no scoring head.
    """
    from crlso.models.graphs import batch_genotypes
    from crlso.models.training import encode, predict

    if "icnn" not in models and "predictor" not in models:
        raise ValueError(f"the checkpoint has no scoring head (icnn or predictor); it has: {', '.join(models)}")
    scores: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(genotypes), chunk):
        batch = batch_genotypes(list(genotypes[start : start + chunk]))
        if "icnn" in models:
            if "vae" not in models:
                raise ValueError("the icnn head needs the vae in the checkpoint")
            icnn = models["icnn"]
            error = icnn(encode(models["vae"], batch)) * icnn.target_std + icnn.target_mean
            scores.setdefault("icnn", []).append((100.0 * (1.0 - error)).cpu().numpy())
        if "predictor" in models:
            error = predict(models["predictor"], batch)
            scores.setdefault("predictor", []).append((100.0 * (1.0 - error)).cpu().numpy())
    out = {name: np.concatenate(parts).astype(np.float64) for name, parts in scores.items()}
    if len(out) == 2:
        out["mean"] = (out["icnn"] + out["predictor"]) / 2
    return out


def write_ranking(path: str | Path, rows: list[dict], *, fmt: str | None = None) -> Path:
    """Write ranked ``rows`` (dicts with the same keys) as CSV or JSONL, atomically.

    ``fmt`` is ``csv`` or ``jsonl``; None picks it from the suffix (``.csv``, else JSONL).
    """
    from nasspace.atomic import write_text_atomic

    path = Path(path)
    fmt = fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"unknown output format {fmt!r}; valid: csv, jsonl")
    if fmt == "jsonl":
        return write_text_atomic(path, "".join(json.dumps(row) + "\n" for row in rows))
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return write_text_atomic(path, buffer.getvalue())
