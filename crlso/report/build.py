"""``crlso report``: one self-contained HTML page (plus its PNGs) for a run folder.

Kinds of folder recognised (`detect_kind`, `KINDS`):

- a comparison (``compare.json`` and ``runs/<method>/seed_<s>/``), a single search run
  (``config.json``, ``queries.jsonl``, ``summary.json``) or a hybrid run (``hybrid.json`` and
  ``search/``): results table, best-so-far regret curves (log scale, ± one standard error, saying
  which initial queries the methods share), the best cell of each method drawn as a graph, and, when
  a latent model is available, a PCA map of every cell's latent code (the space the search ended
  in, else the cached pre-trained VAE; good cells on top, variance explained per axis) and a
  predicted-vs-true scatter of a predictor fitted to the queries of the run with the best
  *search* metric (never chosen by a test metric);
- a ``crlso train`` folder (``summary.json`` and ``checkpoint.pt``) or a ``crlso rank-bench`` folder
  (``rank_bench.json``): its results and configuration as tables;
- a ``darts-backend`` run (``alphas.json`` and ``genotype.json`` or ``genotypes.json``): alpha
  evolution on one y-scale, per-epoch accuracy in percent with the split named (for NB201 beside
  the table accuracy of each epoch's derived cell), the derived cell, or the emitted genotype set
  with its held-out and, after ``darts-backend retrain-set``, retrained accuracy.

Run folders are only read (a darts run as files: the report never imports darts_backend); the page and
PNGs go to ``out_dir`` (default ``<run_dir>/report``).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nasspace.atomic import write_text_atomic

from crlso.report import html as H
from crlso.report.common import ReportOptions, Status, _read_json
from crlso.report.darts import _darts_sections
from crlso.report.search import _search_sections
from crlso.errors import MissingFileError

__all__ = ["KINDS", "ReportOptions", "build_report", "detect_kind"]


KINDS = ("compare", "search", "hybrid", "train", "rank-bench", "darts")
"""Folder kinds `build_report` accepts (`detect_kind` names them)."""


def detect_kind(run_dir: Path) -> str:
    """One of `KINDS`: what wrote the folder, recognised by its files.

    Raises:
        FileNotFoundError: the folder is none of these (the message lists what was looked for).
    """
    if not run_dir.is_dir():
        raise MissingFileError(f"{run_dir} is not a folder")
    if (run_dir / "compare.json").exists():
        return "compare"
    if (run_dir / "summary.json").exists() and (run_dir / "queries.jsonl").exists():
        return "search"
    if (run_dir / "hybrid.json").exists() and (run_dir / "search" / "summary.json").exists():
        return "hybrid"
    if (run_dir / "rank_bench.json").exists():
        return "rank-bench"
    if (run_dir / "summary.json").exists() and (run_dir / "checkpoint.pt").exists() and (run_dir / "config.json").exists():
        return "train"
    if (run_dir / "alphas.json").exists() and any((run_dir / n).exists() for n in ("genotype.json", "genotypes.json")):
        return "darts"
    raise MissingFileError(
        f"{run_dir} is not a run folder: expected compare.json (crlso compare), summary.json + queries.jsonl "
        "(crlso search), hybrid.json + search/ (crlso hybrid), rank_bench.json (crlso rank-bench), "
        "summary.json + checkpoint.pt (crlso train) or alphas.json + genotype(s).json (darts-backend)"
    )


def build_report(run_dir: str | Path, *, out_dir: str | Path | None = None, options: ReportOptions | None = None) -> Path:
    """Write ``report.html`` and its PNGs for ``run_dir``; returns the HTML path."""
    run_dir = Path(run_dir).resolve()
    kind = detect_kind(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    options = options or ReportOptions()
    with _status_line(options.progress) as status:
        if kind == "darts":
            title, subtitle, sections = _darts_sections(run_dir, out, status)
        elif kind == "hybrid":
            title, subtitle, sections = _search_sections(run_dir / "search", "search", out, options, status)
            title = title.replace("crlso search", "crlso hybrid", 1)
            sections.insert(0, _hybrid_section(run_dir))
        elif kind in ("train", "rank-bench"):
            title, subtitle, sections = _summary_sections(run_dir, kind)
        else:
            title, subtitle, sections = _search_sections(run_dir, kind, out, options, status)
    subtitle += f" · report written {time.strftime('%Y-%m-%d %H:%M')}"
    page = write_text_atomic(out / "report.html", H.page(title, subtitle, sections))
    page.chmod(0o644)  # the atomic write's temporary file is private; a report is meant to be shared
    return page


@contextlib.contextmanager
def _status_line(enabled: bool) -> Iterator[Status]:
    """A one-line tqdm status on stderr; each call names the step now running (with the time so far)."""
    from tqdm import tqdm

    with tqdm(total=None, bar_format="crlso report: {desc} [{elapsed}]", leave=False, disable=not enabled) as bar:
        yield lambda text: bar.set_description_str(text, refresh=True)


# -- hybrid, train and rank-bench folders ---------------------------------------------------------
def _scalar_rows(data: dict[str, Any], prefix: str = "") -> list[list[Any]]:
    """``[key, value]`` rows of a JSON object, nested objects flattened as ``a.b``; lists shown by length."""
    rows = []
    for key, value in data.items():
        if isinstance(value, dict):
            rows += _scalar_rows(value, f"{prefix}{key}.")
        elif isinstance(value, list):
            rows.append([prefix + key, value if len(value) <= 8 else f"{len(value)} items"])
        else:
            rows.append([prefix + key, f"{value:.4g}" if isinstance(value, float) else value])
    return rows


def _markdown_table(text: str) -> str:
    """The first Markdown table of ``text`` as an HTML table, the lines after it as a paragraph."""
    lines = [line for line in text.splitlines() if line.strip()]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines if line.startswith("|")]
    rows = [r for r in rows if not all(set(c) <= set("-: ") for c in r)]  # the separator line
    rest = " ".join(line for line in lines if not line.startswith("|"))
    parts = [H.table(rows[0], rows[1:])] if rows else []
    return "".join(parts + ([H.paragraph(rest)] if rest else []))


def _hybrid_section(run_dir: Path) -> str:
    """Where a ``crlso hybrid`` run's seed cells came from."""
    info = json.loads((run_dir / "hybrid.json").read_text())
    seeds = info.get("seeds", [])
    return H.section("Hybrid seeding", H.paragraph(
        f"The search below was seeded by the supernet search in {info.get('supernet')}: {len(seeds)} seed cells, "
        "queried first and charged to the budget like any other query (derived cell first)."),
        H.table(["#", "seed cell"], [[i, g] for i, g in enumerate(seeds)]))


def _summary_sections(run_dir: Path, kind: str) -> tuple[str, str, list[str]]:
    """A ``crlso train`` or ``crlso rank-bench`` folder: its table (rank-bench), summary and configuration."""
    config = _read_json(run_dir / "config.json") or {}
    sections = []
    if kind == "rank-bench":
        bench = json.loads((run_dir / "rank_bench.json").read_text())
        config = bench.get("config", config)
        if (run_dir / "table.md").exists():
            sections.append(H.section("Ranking results", _markdown_table((run_dir / "table.md").read_text())))
        title = "crlso rank-bench"
        subtitle = f"{run_dir} · {len(bench.get('runs', []))} runs · {bench.get('seconds', float('nan')):.0f} s"
    else:
        summary = json.loads((run_dir / "summary.json").read_text())
        sections.append(H.section("Summary", H.table(["field", "value"], _scalar_rows(summary))))
        title = f"crlso train: {config.get('space', '?')} / {config.get('dataset', '?')}"
        subtitle = f"{run_dir} · seed {config.get('seed', '?')} · model in checkpoint.pt"
    sections.append(H.section("Configuration", H.table(["option", "value"], _scalar_rows(config))))
    return title, subtitle, sections
