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

Run folders are only read (a darts run as files: crlso never imports darts_backend); the page and
PNGs go to ``out_dir`` (default ``<run_dir>/report``).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crlso import report_html as H
from nasspace.atomic import write_text_atomic
from crlso.experiments.compare import run_name, shared_initial_queries, shared_queries_note

__all__ = ["KINDS", "ReportOptions", "build_report", "detect_kind"]


@dataclass(frozen=True)
class ReportOptions:
    """What the report computes beyond reading files.

    Attributes:
        latent: draw the latent map and predicted-vs-true sections (needs the cached VAE).
        train_model: pre-train the VAE when it is not cached (minutes); otherwise skip with a note.
        cache_dir: cache of pre-trained models (default: the run's own ``cache_dir`` option, else
            ``$CRLSO_CACHE_DIR`` or ``~/.cache/crlso``).
        data_dir: benchmark files (default: the run's ``data_dir``).
        map_points: cells drawn on the latent map (a seeded subset; 0 = all).
        seed: seeds the subset and the predictor's initialisation.
        progress: a one-line status on stderr naming the step being computed (the latent sections take
            tens of seconds: every cell is featurized and encoded).
    """

    latent: bool = True
    train_model: bool = False
    cache_dir: str | None = None
    data_dir: str | None = None
    map_points: int = 0
    seed: int = 0
    progress: bool = False


KINDS = ("compare", "search", "hybrid", "train", "rank-bench", "darts")
"""Folder kinds `build_report` accepts (`detect_kind` names them)."""


def detect_kind(run_dir: Path) -> str:
    """One of `KINDS`: what wrote the folder, recognised by its files.

    Raises:
        FileNotFoundError: the folder is none of these (the message lists what was looked for).
    """
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir} is not a folder")
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
    raise FileNotFoundError(
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


Status = Callable[[str], None]


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


# -- comparisons and search runs ------------------------------------------------------------------
@dataclass(frozen=True)
class _Run:
    folder: Path
    config: dict[str, Any]
    summary: dict[str, Any]


def _load_runs(run_dir: Path, kind: str) -> tuple[dict[str, Any], list[_Run]]:
    def load(folder: Path) -> _Run:
        return _Run(folder, json.loads((folder / "config.json").read_text()), json.loads((folder / "summary.json").read_text()))

    if kind == "search":
        run = load(run_dir)
        meta = {key: run.config.get(key) for key in ("space", "dataset", "search_metric", "report_metric")}
        meta["report_metric"] = run.summary.get("report_metric", meta["report_metric"])  # a supernet oracle reports its own metric
        meta.update(methods=[run.config["method"]], seeds=[run.config["seed"]], budgets=[run.config["budget"]])
        return meta, [run]
    meta = json.loads((run_dir / "compare.json").read_text())
    left_out = {reason.split(" ")[0] for reason in meta.get("left_out", [])}  # as the compare's table left them out
    runs = [load(p.parent) for p in sorted((run_dir / "runs").glob("*/seed_*/summary.json"))
            if p.parent.relative_to(run_dir).as_posix() not in left_out]
    if not runs:
        raise FileNotFoundError(f"{run_dir / 'runs'} holds no finished run (no summary.json)")
    order = {m: i for i, m in enumerate(meta.get("methods", []))}
    runs.sort(key=lambda r: (order.get(run_name(r.summary), len(order)), r.summary["seed"]))
    return meta, runs


def _search_sections(run_dir: Path, kind: str, out: Path, options: ReportOptions, status: Status) -> tuple[str, str, list[str]]:
    from crlso.experiments.compare import aggregate
    from crlso.plots import plot_best_so_far

    status(f"reading {run_dir.name}")
    meta, runs = _load_runs(run_dir, kind)
    summaries = [r.summary for r in runs]
    budgets = [int(b) for b in meta["budgets"]]
    report_metric, search_metric = meta.get("report_metric", "test_acc"), meta.get("search_metric", "valid_acc")
    methods = list(dict.fromkeys(run_name(s) for s in summaries))
    seeds = sorted({s["seed"] for s in summaries})
    title = f"crlso {kind}: {', '.join(methods)}"
    subtitle = (f"{run_dir} · {meta.get('space')} / {meta.get('dataset')} · search on {search_metric}, report {report_metric} · "
                f"{len(seeds)} seeds · budgets {', '.join(map(str, budgets))}")
    if "wall_seconds" in meta:
        subtitle += f" · {meta['wall_seconds']:.0f} s with {meta.get('workers', '?')} {meta.get('executor', 'local')} workers"

    aggregated = aggregate(summaries, budgets)
    head = ["method", "seeds"] + [f"{report_metric}@{b}" for b in budgets] + ["median queries to optimum", "found optimum by max budget", "mean s/run"]
    rows = []
    for method, row in aggregated.items():
        median = row["median_queries_to_optimum"]
        rows.append([method, row["seeds"]]
                    + [f"{row['at_budget'][str(b)]['mean']:.2f} ± {row['at_budget'][str(b)]['ci95']:.2f}" for b in budgets]
                    + [f"{median:g}" if median is not None else f"> {max(budgets)}",
                       f"{row['found_optimum'][str(max(budgets))]}/{row['seeds']}", f"{row['mean_wall_seconds']:.1f}"])
    sections = [H.section(
        "Results",
        H.table(head, rows),
        H.paragraph(f"Mean {report_metric} of the best-by-{search_metric} cell after each budget, ± the half-width of "
                    "the 95% Student-t interval over seeds; queries to the table optimum are censored at the run length."),
    )]
    status(f"best-so-far curves of {len(runs)} runs")
    optimum = _table_optimum(meta, runs, report_metric, options)
    note = shared_queries_note(shared_initial_queries({(run_name(r.summary), r.summary["seed"]): r.folder for r in runs}))
    curves = plot_best_so_far(summaries, out / "best_so_far.png", report_metric=report_metric, budgets=budgets,
                              optimum=optimum, note=note)
    if optimum is not None:
        caption = (f"regret of the best-so-far cell (picked by {search_metric}): the table's best {report_metric} "
                   f"({optimum:.2f}) minus that cell's {report_metric}, mean over seeds ± one standard error, log scale. {note}")
    else:
        caption = f"{report_metric} of the best-so-far cell, mean over seeds ± one standard error (no table: no regret). {note}"
    sections.append(H.section("Best-so-far curves", H.figure(curves, caption)))
    status("drawing the best cells")
    sections.append(_cells_section(meta, runs, out, search_metric, report_metric))
    final = _finalize_section(run_dir)
    if final:
        sections.append(final)
    if options.latent:  # --no-latent leaves the sections out (no empty box)
        sections.extend(_latent_sections(meta, runs, out, options, status))
    return title, subtitle, sections


def _finalize_section(run_dir: Path) -> str:
    """The ``crlso finalize`` table of a single run (``finalize.json``), or "" when it was not finalized."""
    path = run_dir / "finalize.json"
    if not path.is_file():
        return ""
    final = _read_json(path)
    budget = final["budget"]
    rows = [[c["rank"], c["genotype"], f"{c['search_value']:.2f}", f"{c['test_acc']:.2f}", f"{c['params']:.3f}",
             f"{c['flops']:.1f}", f"{c['train_seconds']:.0f}"] for c in final["cells"]]
    return H.section(
        "Final evaluation",
        H.table(["rank", "cell", final.get("search_metric") or "search value", "test_acc", "params (M)", "FLOPs (M)", "train s"], rows),
        H.paragraph(f"The {final['top']} best cells retrained from scratch ({budget['epochs']} epochs, C={budget['channels']}, "
                    f"{budget['cells']} cells, {budget['images'] or 'all'} train images of {budget['data']}) and scored on "
                    "the test split, which the search never read."),
    )


def _table_optimum(meta: dict[str, Any], runs: list[_Run], report_metric: str, options: ReportOptions) -> float | None:
    """The best ``report_metric`` of the run's NB201 table, or None when the runs searched without one."""
    from crlso.oracles import load_table

    if (meta.get("space") or "nb201") != "nb201" or any(r.config.get("supernet") for r in runs):
        return None
    try:
        table = load_table(meta.get("dataset") or "cifar10", options.data_dir or runs[0].config.get("data_dir"))
        return float(np.max(table.metric(report_metric)))
    except Exception:  # noqa: BLE001 - without the table the curves show the metric itself
        return None


def _cells_section(meta: dict[str, Any], runs: list[_Run], out: Path, search_metric: str, report_metric: str) -> str:
    from nasspace import get_space

    from crlso.plots import plot_cells

    try:
        space = get_space(meta.get("space") or "nb201")
    except Exception as exc:  # noqa: BLE001 - an unknown space only skips the drawings
        return H.section("Best cells", H.note(f"skipped: {exc}"))
    panels, rows = [], []
    for method in dict.fromkeys(run_name(r.summary) for r in runs):
        mine = [r.summary for r in runs if run_name(r.summary) == method and r.summary.get("best")]
        if not mine:
            continue
        best = max(mine, key=lambda s: (s["best"][search_metric], s["best"][report_metric]))["best"]
        found = sum(s["best"]["genotype"] == best["genotype"] for s in mine)
        graph = space.to_graph(space.parse(best["genotype"])).to_networkx()
        is_optimum = ", the table optimum" if best["genotype"] == runs[0].summary.get("optimum") else ""
        panels.append((f"{method}: {search_metric} {best[search_metric]:.2f}, {report_metric} {best[report_metric]:.2f}\n"
                       f"best of {found}/{len(mine)} runs{is_optimum}", graph))
        rows.append([method, best["genotype"], f"{best[search_metric]:.3f}", f"{best[report_metric]:.3f}", f"{found}/{len(mine)}"])
    optimum = runs[0].summary.get("optimum")
    if optimum and all(row[1] != optimum for row in rows):
        panels.append(("table optimum (best " + search_metric + ")", space.to_graph(space.parse(optimum)).to_networkx()))
    png = plot_cells(panels, out / "best_cells.png")
    return H.section(
        "Best cells",
        H.figure(png, f"the best-by-{search_metric} cell of each method over all its runs, operations on nodes"),
        H.table(["method", "genotype", search_metric, report_metric, "best cell of"], rows),
    )


# -- latent space ---------------------------------------------------------------------------------
def _model_configs(runs: list[_Run], space: str) -> tuple[Any, Any, str | None]:
    """(ModelConfig, PretrainConfig, cache_dir) of the first crlso run, else the searcher's defaults."""
    from crlso.models.config import ModelConfig, PretrainConfig

    for run in runs:
        if run.config.get("method") == "crlso":
            resolved = run.config.get("resolved_options", {})
            return (ModelConfig(**resolved.get("model", {})), PretrainConfig(**resolved.get("pretrain", {})),
                    resolved.get("cache_dir") or None)
    return ModelConfig(space=space), PretrainConfig(), None


def _latent_sections(meta: dict[str, Any], runs: list[_Run], out: Path, options: ReportOptions, status: Status) -> list[str]:
    """PCA map of the VAE's latent codes and predicted-vs-true of a predictor fitted to one run."""
    import torch

    from crlso.oracles import load_table
    from crlso.models.graphs import all_cells_batch
    from crlso.plots import plot_latent_map, plot_predicted_vs_true
    from crlso.models.config import default_cache_dir
    from crlso.models.training import cached_pretrained_vae, encode, vae_cache_path

    space, metric = meta.get("space") or "nb201", meta.get("search_metric", "valid_acc")
    if space != "nb201":
        return [H.section("Latent space", H.note(f"skipped: the latent map needs an enumerable space (nb201), this run is on {space}"))]
    try:
        model_cfg, pretrain_cfg, run_cache = _model_configs(runs, space)
    except TypeError as exc:
        return [H.section("Latent space", H.note(f"skipped: the run's model config does not fit this crlso version ({exc})"))]
    cache_dir = Path(options.cache_dir or run_cache or default_cache_dir())
    cache_file = vae_cache_path(model_cfg, pretrain_cfg, cache_dir)
    has_state = any((r.folder / "latent_space.pt").exists() for r in runs)
    if not has_state and not cache_file.exists() and not options.train_model:
        return [H.section("Latent space", H.note(
            f"skipped: no cached pre-trained VAE at {cache_file} (run a crlso search or compare first, or pass --train-model)"))]

    started = time.perf_counter()
    device = torch.device("cpu")
    # The map shows the space a latent search ended in (its latent_space.pt), chosen by the search
    # metric; without one, the cached unlabelled VAE.
    def by_search_metric(pool: list[_Run]) -> _Run:
        return min(pool, key=lambda r: (-r.summary["best"][metric], r.summary["seed"]))

    searched = [r for r in runs if (r.folder / "latent_space.pt").exists() and r.summary.get("best")]
    if searched:
        chosen = by_search_metric(searched)
        from crlso.models.config import ModelConfig, build_vae

        from crlso.models.torch_files import load_torch

        state = load_torch(chosen.folder / "latent_space.pt", map_location=device)
        vae = build_vae(ModelConfig(**state["model_config"])).to(device)
        vae.load_state_dict(state["vae"])
        vae.eval()
        source = f"the VAE that {run_name(chosen.summary)} seed {chosen.summary['seed']} ended its search with ({state['head_kind']} head)"
    else:
        vae, _ = cached_pretrained_vae(model_cfg, pretrain_cfg, cache_dir=cache_dir, device=device, progress=False)
        source = f"the cached unlabelled pre-trained VAE ({cache_file.name})"
        finished = [r for r in runs if r.summary.get("best")]
        chosen = by_search_metric([r for r in finished if r.summary["method"] == "crlso"] or finished)
    status(f"latent map: featurizing every {space} cell")
    cells, batch = all_cells_batch(space)
    status(f"latent map: encoding {len(cells):,} cells")
    mu = encode(vae, batch).cpu().numpy().astype(np.float64)
    table = load_table(meta.get("dataset", "cifar10"), options.data_dir or runs[0].config.get("data_dir"))
    row_of = {str(g): i for i, g in enumerate(table.genotypes)}
    truth = np.asarray(table.metric(metric), dtype=float)[[row_of[str(g)] for g in cells]]
    centered = mu - mu.mean(axis=0)
    _, singular, vt = np.linalg.svd(centered, full_matrices=False)
    xy = centered @ vt[:2].T
    shares = singular**2 / (singular**2).sum()
    explained = shares[:2].sum()
    index = {str(g): i for i, g in enumerate(cells)}

    queries = [json.loads(line) for line in (chosen.folder / "queries.jsonl").read_text().splitlines() if line.strip()]
    queried = np.asarray([index[q["genotype"]] for q in queries], dtype=int)
    optimum = int(np.argmax(truth))
    shown = np.arange(len(cells))
    if options.map_points and options.map_points < len(cells):
        rng = np.random.default_rng(options.seed)
        shown = np.union1d(rng.choice(len(cells), options.map_points, replace=False), np.append(queried, optimum))
    # good cells drawn last, on top
    shown = shown[np.argsort(truth[shown], kind="stable")]
    where = {int(c): k for k, c in enumerate(shown)}
    chosen_name = f"{run_name(chosen.summary)} seed {chosen.summary['seed']}"
    map_png = plot_latent_map(xy[shown], truth[shown], out / "latent_map.png", color_label=metric,
                              highlight=np.asarray([where[int(c)] for c in queried]), star=where[optimum],
                              axis_shares=(float(shares[0]), float(shares[1])), highlight_label=f"queried by {chosen_name}",
                              title=f"{len(shown)} cells, PCA of the VAE posterior means (2 components: {100 * explained:.0f}% of variance)")
    encode_seconds = time.perf_counter() - started

    status(f"predicted vs true: kernel ridge on the {len(queried)} queried cells")
    started = time.perf_counter()
    values = np.asarray([float(q["value"]) for q in queries])
    predicted, (length, ridge) = _kernel_ridge(mu, queried, values)
    fit_seconds = time.perf_counter() - started
    from scipy import stats

    held_out = np.setdiff1d(np.arange(len(cells)), queried)
    tau = stats.kendalltau(predicted[held_out], truth[held_out]).statistic
    rho = stats.spearmanr(predicted[held_out], truth[held_out]).statistic
    top = held_out[np.argsort(-predicted[held_out])[:50]]
    true_top = set(held_out[np.argsort(-truth[held_out])[:50]].tolist())
    precision = len(true_top.intersection(top.tolist())) / 50
    scatter_png = plot_predicted_vs_true(predicted, truth, out / "predicted_vs_true.png", train=queried, label=metric,
                                         title=f"kernel ridge on latent codes, fitted to the {len(queried)} queries of {chosen_name}\n"
                                               f"Kendall tau {tau:.3f}, Spearman {rho:.3f} on the other cells")
    return [
        H.section(
            "Latent space map",
            H.figure(map_png, f"every NB201 cell encoded by {source}, projected on its "
                              f"first two principal components (best cells drawn on top), colored by {metric}; circles: the cells {chosen_name} queried, "
                              f"star: the table optimum ({encode_seconds:.1f} s)"),
        ),
        H.section(
            "Predicted vs true",
            H.figure(scatter_png, f"{metric} predicted for all {len(cells)} cells against the table"),
            H.paragraph(
                f"Predictor: Gaussian-kernel ridge regression on the VAE latent codes (length scale {length:.3g}, ridge "
                f"{ridge:g}, both chosen by leave-one-out error), fitted to the {len(queried)} cells queried by {chosen_name} "
                f"(the run with the best {metric}, never chosen by a test metric) and their {metric} "
                f"values, in {fit_seconds:.2f} s. "
                f"On the {len(held_out)} cells it was not fitted to: Kendall tau {tau:.3f}, Spearman rho {rho:.3f}, "
                f"precision@50 {precision:.2f}. It shows how well the latent space orders cells from that run's labels; it is a cheap "
                f"stand-in, not the predictor the run itself used."
            ),
        ),
    ]


def _kernel_ridge(codes: np.ndarray, train: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Predictions for all ``codes (N, d)`` of an RBF kernel ridge fitted to ``codes[train]``.

    The length scale (a multiple of the median pairwise training distance) and the ridge are picked
    from a small grid by the closed-form leave-one-out error. Returns predictions and (length, ridge).
    """
    x = codes / codes.std(axis=0).clip(min=1e-9)
    xt = x[train]
    mean, scale = values.mean(), max(values.std(), 1e-9)
    y = (values - mean) / scale
    dist2 = ((xt[:, None, :] - xt[None, :, :]) ** 2).sum(-1)
    median = float(np.sqrt(np.median(dist2[dist2 > 0]))) if np.any(dist2 > 0) else 1.0
    best = None
    for length in (0.25 * median, 0.5 * median, median, 2 * median):
        kernel = np.exp(-dist2 / (2 * length**2))
        for ridge in (1e-3, 1e-2, 1e-1, 1.0):
            inverse = np.linalg.inv(kernel + ridge * np.eye(len(train)))
            loo = float(np.mean((inverse @ y / np.diag(inverse)) ** 2))
            if best is None or loo < best[0]:
                best = (loo, length, ridge, inverse @ y)
    _, length, ridge, weights = best
    predicted = np.empty(len(x))
    for start in range(0, len(x), 4096):
        chunk = x[start:start + 4096]
        d2 = ((chunk[:, None, :] - xt[None, :, :]) ** 2).sum(-1)
        predicted[start:start + 4096] = np.exp(-d2 / (2 * length**2)) @ weights
    return predicted * scale + mean, (length, ridge)


# -- darts-backend runs ---------------------------------------------------------------------------
def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip().endswith("}")]


def _darts_sections(run_dir: Path, out: Path, status: Status) -> tuple[str, str, list[str]]:
    from nasspace import genotype_from_json, get_space

    from crlso.plots import plot_alpha_history, plot_cells, plot_genotype_set, plot_training_curves

    config = _read_json(run_dir / "config.json") or {}
    result = _read_json(run_dir / "result.json") or {}
    alphas = _read_json(run_dir / "alphas.json") or {}
    metrics = _read_jsonl(run_dir / "metrics.jsonl")
    method = config.get("method") or alphas.get("method", "?")
    space = config.get("space") or alphas.get("space", "?")
    title = f"darts-backend run: {method} on {space}"
    subtitle = (f"{run_dir} · seed {config.get('seed', '?')} · {len(metrics)} epochs logged · "
                f"C={config.get('channels', '?')}, cells={config.get('cells', '?')}")
    sections = []
    rows = [[key, value] for key, value in result.items() if not isinstance(value, (list, dict))]
    if rows:
        sections.append(H.section("Result", H.table(["field", "value"], rows)))

    history = alphas.get("history", [])
    if history:
        epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
        arr = np.asarray([h["alphas"] for h in history], dtype=float)
        ops = alphas.get("ops", [str(i) for i in range(arr.shape[-1])])
        if arr.ndim == 3:  # (epochs, edges, ops): one panel per edge
            edges = alphas.get("edges") or [[0, e + 1] for e in range(arr.shape[1])]
            names = [f"edge {a} -> {b}" for a, b in edges]
            caption = "architecture weights of every edge per epoch, as logged"
        else:  # (epochs, cells, edges, ops): one panel per cell, averaged over the edges still alive
            alive = arr.sum(axis=-1, keepdims=True) > 0
            arr = (arr * alive).sum(axis=2) / np.maximum(alive.sum(axis=2), 1)
            layout = alphas.get("layout") or ["cell"] * arr.shape[1]
            names = [f"cell {c} ({kind})" for c, kind in enumerate(layout)]
            caption = "architecture weights per operation, averaged over each cell's remaining edges, per epoch"
        png = plot_alpha_history(epochs, arr, ops, out / "alpha_history.png", panel_names=names, title=f"{method}: alpha evolution")
        sections.append(H.section("Alpha evolution", H.figure(png, caption)))
    if metrics:
        status("training curves")
        sections.append(_darts_curves(metrics, config, out))

    single = _read_json(run_dir / "genotype.json")
    if single:
        genotype = genotype_from_json(single)
        space_obj = get_space(single["space"])
        label = f"{method} final cell"
        lookup = [(k, v) for k, v in result.items() if k.startswith("nb201_") and isinstance(v, (int, float))]
        if lookup:  # e.g. nb201_cifar10_test_acc
            key, value = lookup[0]
            label += f": NB201 table {key.removeprefix('nb201_').removesuffix('_percent').replace('_', ' ', 1)} {value:.2f}"
        parts = [H.figure(plot_cells([(label, space_obj.to_graph(genotype).to_networkx())], out / "cell.png", columns=1),
                          "the derived cell, operations on nodes"),
                 H.paragraph(f"genotype: {genotype}")]
        by_epoch = [[r.get("epoch", i + 1), r["genotype"]] for i, r in enumerate(metrics) if "genotype" in r and len(str(r["genotype"])) < 200]
        head = ["epoch", "derived genotype"]
        if by_epoch and single["space"] == "nb201":  # the standard DARTS-on-NB201 columns beside each epoch's cell
            table_curves, _ = _nb201_table_curves([r for r in metrics if "genotype" in r], config)
            if any("acc" in r for r in metrics):
                head.append("supernet acc (%, train batches)")
                for row, record in zip(by_epoch, [r for r in metrics if "genotype" in r]):
                    row.append(f"{_percent(record.get('acc')):.2f}")
            for label, values in table_curves.items():
                head.append("NB201 " + label.split(":")[1].split(" of ")[0].strip())  # e.g. "NB201 CIFAR-10 test_acc"
                for row, value in zip(by_epoch, values):
                    row.append(f"{value:.2f}")
        if by_epoch:
            parts.append(H.table(head, by_epoch))
        sections.append(H.section("Derived cell", *parts))
    entries = _read_json(run_dir / "genotypes.json")
    if entries:
        sections.append(_genotype_set_section(entries, config, method, out))
    return title, subtitle, sections



_CURVE_LABELS = {
    "acc": "supernet accuracy on its training batches (train split)",
    "valid_acc": "supernet accuracy on the held-out share of the train split",
    "search_acc": "supernet accuracy on its training batches (train split)",
    "loss": "training loss, regulariser included (train split)",
    "valid_loss": "loss on the held-out share of the train split",
    "ce": "cross-entropy (train split)",
    "kd": "distillation loss (train split)",
}
"""What each per-epoch key of a darts-backend ``metrics.jsonl`` measures, split named."""


def _percent(value: Any) -> float:
    """An accuracy as percent: darts-backend files hold fractions in [0, 1]; values above 1 are taken as percent already."""
    value = float(value) if isinstance(value, (int, float)) else float("nan")
    return 100 * value if value <= 1.0 else value


def _darts_curves(metrics: list[dict[str, Any]], config: dict[str, Any], out: Path) -> str:
    """Per-epoch accuracy (percent) and losses; for NB201, the table accuracy of each epoch's derived cell beside them."""
    from crlso.plots import plot_training_curves

    epochs = [r.get("epoch", i + 1) for i, r in enumerate(metrics)]
    series = {_CURVE_LABELS[k]: [_percent(r[k]) if k in r else float("nan") for r in metrics]
              for k in ("acc", "valid_acc", "search_acc") if any(k in r for r in metrics)}
    parts, notes = [], []
    if (config.get("space") or "") == "nb201" and any("genotype" in r for r in metrics):
        table_series, note = _nb201_table_curves(metrics, config)
        series.update(table_series)
        notes.append(note)
    if series:
        png = plot_training_curves(epochs, series, out / "accuracy.png", ylabel="accuracy (%)",
                                   title="accuracy per epoch (%)")
        parts.append(H.figure(png, "per-epoch accuracy in percent: " + "; ".join(series) + ". " + " ".join(notes)))
    losses = {_CURVE_LABELS[k]: [float(r.get(k, float("nan"))) for r in metrics]
              for k in ("loss", "valid_loss", "ce", "kd") if any(k in r for r in metrics)}
    if losses:
        parts.append(H.figure(plot_training_curves(epochs, losses, out / "loss.png", ylabel="loss", title="losses per epoch"),
                              "per-epoch losses, split named"))
    return H.section("Training curves", *parts)


def _nb201_table_curves(metrics: list[dict[str, Any]], config: dict[str, Any]) -> tuple[dict[str, list[float]], str]:
    """NB201 CIFAR-10 table accuracies of the genotype derived at each epoch (the standard DARTS-on-NB201 curve)."""
    from crlso.oracles import load_table

    try:
        table = load_table("cifar10", None)
    except Exception as exc:  # noqa: BLE001 - without the table the curves show the search accuracy only
        return {}, f"(The NB201 table could not be read, so the derived cells' table accuracy is not shown: {exc}.)"
    curves = {}
    for metric, label in (("valid_acc", "NB201 table: cifar10-valid valid_acc of the epoch's derived cell"),
                          ("test_acc", "NB201 table: CIFAR-10 test_acc of the epoch's derived cell")):
        curves[label] = [table.query(r["genotype"], metric) if "genotype" in r else float("nan") for r in metrics]
    return curves, ("The NB201 lines are the benchmark table's accuracies of the cell derived from the alphas at the end of "
                    "each epoch, trained from scratch for 200 epochs by NAS-Bench-201 (not by this run).")


def _genotype_set_section(entries: list[dict[str, Any]], config: dict[str, Any], method: str, out: Path) -> str:
    """A DNAD/FX-DARTS set: held-out (and, after ``retrain-set``, retrained) accuracy against size, and a table."""
    from crlso.plots import plot_genotype_set

    retrained = any("retrained_acc" in e for e in entries)
    axis = config.get("pareto_axis", "params")
    png = plot_genotype_set(entries, out / "genotype_set.png", title=f"{method}: emitted genotype set ({len(entries)})")
    head = ["#", "epoch", "reason", "params (M)", "FLOPs (M)", "held-out acc (%)"]
    if retrained:
        head += ["retrained acc (%)", "retrained test acc (%)", "on retrained front"]
    head.append("(op, input) pairs")
    rows = []
    for i, entry in enumerate(entries):
        ops = sum(len(pairs) for cell in entry.get("cells", []) for pairs in cell.get("nodes", []))
        row = [i, entry.get("epoch", ""), entry.get("reason", ""), f"{entry.get('params', float('nan')):.4f}",
               f"{entry.get('flops', float('nan')):.2f}", f"{_percent(entry.get('heldout_acc')):.2f}"]
        if retrained:
            row += [f"{_percent(entry.get('retrained_acc')):.2f}", f"{_percent(entry.get('retrained_test_acc')):.2f}",
                    "yes" if entry.get("retrained_front") else "no"]
        rows.append(row + [ops])
    caption = (f"each emitted genotype's accuracy against its size; the set is Pareto-filtered on held-out accuracy against {axis}. "
               "Held-out accuracy: the supernet's accuracy, at the moment the genotype was emitted, on the share of the train "
               "split the search never trained on.")
    if retrained:
        settings = next((e.get("retrain", {}).get("settings") for e in entries if e.get("retrain")), None) or {}
        described = ", ".join(f"{k} {v}" for k, v in settings.items() if k in ("epochs", "channels", "cells"))
        caption += (" Retrained accuracy: each genotype trained from scratch by darts-backend retrain-set"
                    f"{f' ({described})' if described else ''}, measured on the held-out share of the train split; "
                    "its test accuracy (test split) is in the table.")
    else:
        caption += " Run darts-backend retrain-set to train each member from scratch and add its retrained accuracy."
    return H.section("Genotype set", H.figure(png, caption), H.table(head, rows))
