"""The report of a comparison or a search run: results table, best-so-far curves, the best cells, the
final evaluation, and the latent-space sections (PCA map, predicted vs true)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crlso.experiments.compare import run_name, shared_initial_queries, shared_queries_note
from crlso.report import html as H
from crlso.report.common import ReportOptions, Status, _read_json
from crlso.errors import MissingFileError

__all__: list[str] = []


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
        raise MissingFileError(f"{run_dir / 'runs'} holds no finished run (no summary.json)")
    order = {m: i for i, m in enumerate(meta.get("methods", []))}
    runs.sort(key=lambda r: (order.get(run_name(r.summary), len(order)), r.summary["seed"]))
    return meta, runs


def _search_sections(run_dir: Path, kind: str, out: Path, options: ReportOptions, status: Status) -> tuple[str, str, list[str]]:
    from crlso.experiments.compare import aggregate
    from crlso.report.plots import plot_best_so_far

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
    """The best ``report_metric`` of the run's table, or None when the runs searched without one."""
    from crlso.oracles import has_table, load_table

    space = meta.get("space") or "nb201"
    if not has_table(space) or any(r.config.get("supernet") for r in runs):
        return None
    try:
        table = load_table(meta.get("dataset") or "cifar10", options.data_dir or runs[0].config.get("data_dir"), space)
        return float(np.max(table.metric(report_metric)))
    except Exception:  # noqa: BLE001 - without the table the curves show the metric itself
        return None


def _cells_section(meta: dict[str, Any], runs: list[_Run], out: Path, search_metric: str, report_metric: str) -> str:
    from nasspace import get_space

    from crlso.report.plots import plot_cells

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
        digits = 2 if abs(best[search_metric]) >= 10 else 4
        values = f"{search_metric} {best[search_metric]:.{digits}f}" + (
            f", {report_metric} {best[report_metric]:.{digits}f}" if report_metric != search_metric else "")
        panels.append((f"{method}: {values}\nbest of {found}/{len(mine)} runs{is_optimum}", graph))
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
    from crlso.oracles import has_table, load_table
    from crlso.models.cells import is_enumerated, training_cells_batch
    from crlso.report.plots import plot_latent_map
    from crlso.models.config import default_cache_dir
    from crlso.models.training import encode, vae_cache_path

    space, metric = meta.get("space") or "nb201", meta.get("search_metric", "valid_acc")
    if not (is_enumerated(space) and has_table(space)):
        return [H.section("Latent space", H.note(f"skipped: the latent map needs an enumerable space with a table, this run is on {space}"))]
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
    vae, source, chosen = _latent_vae(runs, metric, model_cfg, pretrain_cfg, cache_dir, cache_file)
    status(f"latent map: featurizing every {space} cell")
    cells, batch = training_cells_batch(space)
    status(f"latent map: encoding {len(cells):,} cells")
    mu = encode(vae, batch).cpu().numpy().astype(np.float64)
    table = load_table(meta.get("dataset", "cifar10"), options.data_dir or runs[0].config.get("data_dir"), space)
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

    map_section = H.section(
        "Latent space map",
        H.figure(map_png, f"every {space} cell encoded by {source}, projected on its "
                          f"first two principal components (best cells drawn on top), colored by {metric}; circles: the cells {chosen_name} queried, "
                          f"star: the table optimum ({encode_seconds:.1f} s)"),
    )
    status(f"predicted vs true: kernel ridge on the {len(queried)} queried cells")
    return [map_section, _predicted_section(mu, queried, queries, truth, metric, chosen_name, out)]


def _latent_vae(runs: list[_Run], metric: str, model_cfg: Any, pretrain_cfg: Any, cache_dir: Path,
                cache_file: Path) -> tuple[Any, str, _Run]:
    """``(vae, where it comes from, the run whose queries the map circles)``: the VAE a latent search ended in (its
    ``latent_space.pt``, the run chosen by the search metric); without one, the cached unlabelled VAE."""
    import torch

    from crlso.models.config import ModelConfig, build_vae
    from crlso.models.torch_files import load_torch
    from crlso.models.training import cached_pretrained_vae

    device = torch.device("cpu")

    def by_search_metric(pool: list[_Run]) -> _Run:
        return min(pool, key=lambda r: (-r.summary["best"][metric], r.summary["seed"]))

    searched = [r for r in runs if (r.folder / "latent_space.pt").exists() and r.summary.get("best")]
    if searched:
        chosen = by_search_metric(searched)
        state = load_torch(chosen.folder / "latent_space.pt", map_location=device)
        vae = build_vae(ModelConfig(**state["model_config"])).to(device)
        vae.load_state_dict(state["vae"])
        vae.eval()
        return vae, (f"the VAE that {run_name(chosen.summary)} seed {chosen.summary['seed']} ended its search with "
                     f"({state['head_kind']} head)"), chosen
    vae, _ = cached_pretrained_vae(model_cfg, pretrain_cfg, cache_dir=cache_dir, device=device, progress=False)
    finished = [r for r in runs if r.summary.get("best")]
    chosen = by_search_metric([r for r in finished if r.summary["method"] == "crlso"] or finished)
    return vae, f"the cached unlabelled pre-trained VAE ({cache_file.name})", chosen


def _predicted_section(mu: np.ndarray, queried: np.ndarray, queries: list[dict], truth: np.ndarray, metric: str,
                       chosen_name: str, out: Path) -> str:
    """Kernel ridge on the latent codes ``mu (N, d)`` fitted to one run's queries, scored on the other cells."""
    from scipy import stats

    from crlso.report.plots import plot_predicted_vs_true

    started = time.perf_counter()
    values = np.asarray([float(q["value"]) for q in queries])
    predicted, (length, ridge) = _kernel_ridge(mu, queried, values)
    fit_seconds = time.perf_counter() - started
    held_out = np.setdiff1d(np.arange(len(mu)), queried)
    tau = stats.kendalltau(predicted[held_out], truth[held_out]).statistic
    rho = stats.spearmanr(predicted[held_out], truth[held_out]).statistic
    top = held_out[np.argsort(-predicted[held_out])[:50]]
    true_top = set(held_out[np.argsort(-truth[held_out])[:50]].tolist())
    precision = len(true_top.intersection(top.tolist())) / 50
    scatter_png = plot_predicted_vs_true(predicted, truth, out / "predicted_vs_true.png", train=queried, label=metric,
                                         title=f"kernel ridge on latent codes, fitted to the {len(queried)} queries of {chosen_name}\n"
                                               f"Kendall tau {tau:.3f}, Spearman {rho:.3f} on the other cells")
    return H.section(
        "Predicted vs true",
        H.figure(scatter_png, f"{metric} predicted for all {len(mu)} cells against the table"),
        H.paragraph(
            f"Predictor: Gaussian-kernel ridge regression on the VAE latent codes (length scale {length:.3g}, ridge "
            f"{ridge:g}, both chosen by leave-one-out error), fitted to the {len(queried)} cells queried by {chosen_name} "
            f"(the run with the best {metric}, never chosen by a test metric) and their {metric} "
            f"values, in {fit_seconds:.2f} s. "
            f"On the {len(held_out)} cells it was not fitted to: Kendall tau {tau:.3f}, Spearman rho {rho:.3f}, "
            f"precision@50 {precision:.2f}. It shows how well the latent space orders cells from that run's labels; it is a cheap "
            f"stand-in, not the predictor the run itself used."
        ),
    )

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
