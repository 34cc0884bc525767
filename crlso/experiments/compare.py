"""Multi-seed multi-method comparisons: every method x seed run through an executor into
``<out>/runs/<name>/seed_<s>/`` (each a run folder of `crlso.experiments.run`), then aggregated over seeds
into ``compare.json``, ``table.md``, ``paired.md`` and ``best_so_far.png``.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nasspace.atomic import write_json_atomic

from crlso.execution.executors import Executor, LocalExecutor
from crlso.experiments.run import RunConfig, _same_run, check_folder_config, run_experiment
from crlso.experiments.run_folder import read_json_file, read_queries
from crlso.oracles.registry import parse_oracle
from crlso.oracles.table import check_budget, has_table, load_table
from crlso.search.base import searcher_config
from crlso.search.variants import resolve_method
from crlso.errors import ConfigError, RunExistsError

__all__ = [
    "run_comparison",
    "aggregate",
    "format_table",
    "mean_ci",
    "paired_differences",
    "format_paired",
    "run_name",
    "folder_runs",
    "shared_initial_queries",
    "shared_queries_note",
]


def _run_task(task: tuple[RunConfig, str, str | None, tuple[str, ...]]) -> dict[str, Any]:
    config, out_dir, tensorboard, plugins = task
    for module in plugins:  # a spawned worker registers a user's searcher or oracle by importing its module
        importlib.import_module(module)
    return run_experiment(config, out_dir, progress=False, tensorboard=tensorboard)


def plugin_modules(methods: list[str], oracle: Mapping[str, Any]) -> tuple[str, ...]:
    """The modules outside crlso that register the searchers ``methods`` and the ``oracle`` entry's oracle.

    Raises:
        ConfigError: one is registered in ``__main__`` (a script or notebook), which worker processes cannot import.
    """
    from crlso.oracles.registry import oracle_entry
    from crlso.search.registry import searcher_class

    found = [("searcher", name, searcher_class(name).__module__) for name in methods]
    found.append(("oracle", oracle["name"], oracle_entry(oracle["name"]).module))
    for kind, name, module in found:
        if module == "__main__":
            raise ConfigError(f"{kind} {name!r} is registered in __main__, which the comparison's worker processes cannot "
                              f"import: register it in a module of your own and import that module")
    return tuple(dict.fromkeys(module for _, _, module in found if module and not module.startswith("crlso.")))


def mean_ci(samples: list[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of its Student-t ``level`` interval."""
    from scipy import stats

    arr = np.asarray(samples, dtype=float)
    if arr.size < 2:
        return float(arr.mean()) if arr.size else float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, arr.size - 1) * arr.std(ddof=1) / np.sqrt(arr.size)
    return float(arr.mean()), float(half)


def aggregate(summaries: list[dict[str, Any]], budgets: list[int]) -> dict[str, Any]:
    """Per method: mean report metric at each budget with 95% CI, and median queries to optimum
    (runs that never queried it count as infinite: censored at the run length)."""
    methods: dict[str, list[dict[str, Any]]] = {}
    for summary in summaries:
        methods.setdefault(run_name(summary), []).append(summary)
    result: dict[str, Any] = {}
    for method, runs in methods.items():
        row: dict[str, Any] = {"seeds": len(runs), "at_budget": {}}
        for b in budgets:
            mean, half = mean_ci([r["best_so_far"][min(b, len(r["best_so_far"])) - 1] for r in runs])
            row["at_budget"][str(b)] = {"mean": mean, "ci95": half}
        if all(r.get("best_so_far_search") for r in runs) and runs[0].get("search_metric") != runs[0].get("report_metric"):
            row["search_at_budget"] = {str(b): dict(zip(("mean", "ci95"), mean_ci([_at(r["best_so_far_search"], b) for r in runs])))
                                       for b in budgets}
        hits = [r["queries_to_optimum"] if r["queries_to_optimum"] is not None else float("inf") for r in runs]
        median = float(np.median(hits))
        row["median_queries_to_optimum"] = median if np.isfinite(median) else None
        row["found_optimum"] = {str(b): int(sum(h <= b for h in hits)) for b in budgets}
        row["mean_wall_seconds"] = float(np.mean([r.get("wall_seconds", float("nan")) for r in runs]))
        taus = [r["icnn_tau_unqueried"] for r in runs if r.get("icnn_tau_unqueried") is not None]
        if taus:
            row["icnn_tau_unqueried"] = dict(zip(("mean", "ci95"), mean_ci(taus)))
        shares = [r["latent_steps"]["improving_share"] for r in runs if (r.get("latent_steps") or {}).get("improving_share") is not None]
        if shares:
            row["improving_latent_steps"] = dict(zip(("mean", "ci95"), mean_ci(shares)))
        result[method] = row
    return result


def paired_differences(summaries: list[dict[str, Any]], pairs: list[tuple[str, str]], budgets: list[int]) -> list[dict[str, Any]]:
    """Per ``(a, b)`` pair of run names: mean and 95% half-width of ``a - b`` over the seeds both ran.

    Differences are taken per seed (the runs of a seed share their initial random cells), for the
    report metric at each budget and for the final ICNN tau when both have it. Pairs missing a side
    are left out.
    """
    by_name: dict[str, dict[int, dict[str, Any]]] = {}
    for summary in summaries:
        by_name.setdefault(run_name(summary), {})[summary["seed"]] = summary
    rows = []
    for a, b in pairs:
        seeds = sorted(set(by_name.get(a, {})) & set(by_name.get(b, {})))
        if not seeds:
            continue
        row: dict[str, Any] = {"a": a, "b": b, "seeds": len(seeds), "at_budget": {}}
        for budget in budgets:
            diffs = [by_name[a][s]["best_so_far"][budget - 1] - by_name[b][s]["best_so_far"][budget - 1] for s in seeds]
            row["at_budget"][str(budget)] = dict(zip(("mean", "ci95"), mean_ci(diffs)))
        runs = [by_name[name][s] for name in (a, b) for s in seeds]
        if all(r.get("best_so_far_search") for r in runs) and runs[0].get("search_metric") != runs[0].get("report_metric"):
            row["search_at_budget"] = {str(budget): dict(zip(("mean", "ci95"), mean_ci(
                [_at(by_name[a][s]["best_so_far_search"], budget) - _at(by_name[b][s]["best_so_far_search"], budget)
                 for s in seeds]))) for budget in budgets}
        taus = [(by_name[a][s].get("icnn_tau_unqueried"), by_name[b][s].get("icnn_tau_unqueried")) for s in seeds]
        if all(x is not None and y is not None for x, y in taus):
            row["icnn_tau_unqueried"] = dict(zip(("mean", "ci95"), mean_ci([x - y for x, y in taus])))
        rows.append(row)
    return rows


def _at(curve: list[float], budget: int) -> float:
    """The best-so-far value after ``budget`` queries (the last one when the run ended earlier)."""
    return curve[min(budget, len(curve)) - 1]


def format_paired(rows: list[dict[str, Any]], budgets: list[int], report_metric: str = "test_acc",
                  search_metric: str | None = None) -> str:
    """A Markdown table of `paired_differences` (mean ± 95% half-width of a - b); the search metric's differences
    first when the rows have them."""
    search = search_metric is not None and all("search_at_budget" in row for row in rows)
    head = ["a - b", "seeds"] + ([f"Δ {search_metric}@{b}" for b in budgets] if search else [])
    head += [f"Δ {report_metric}@{b}" for b in budgets] + ["Δ ICNN tau"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [f"{row['a']} - {row['b']}", str(row["seeds"])]
        if search:
            cells += [_plus_minus(row["search_at_budget"][str(b)], 4, sign=True) for b in budgets]
        cells += [_plus_minus(row["at_budget"][str(b)], 3, sign=True) for b in budgets]
        tau = row.get("icnn_tau_unqueried")
        cells.append("–" if tau is None else _plus_minus(tau, 3, sign=True))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\nPaired by seed; ± is the half-width of the 95% Student-t interval of the mean difference.\n"


def _plus_minus(stat: Mapping[str, float], digits: int, *, sign: bool = False) -> str:
    """``mean ± half-width``; ``mean (n=1)`` when there is no interval (one seed: the half-width is NaN)."""
    mean = f"{stat['mean']:{'+' if sign else ''}.{digits}f}"
    half = stat.get("ci95")
    return f"{mean} (n=1)" if half is None or not np.isfinite(half) else f"{mean} ± {half:.{digits}f}"


def run_name(summary: Mapping[str, Any]) -> str:
    """What a run is grouped and shown as: its variant, else its method."""
    return summary.get("variant") or summary["method"]


def _digits(aggregated: dict[str, Any], key: str) -> int:
    """2 decimals for values on a percent scale, 4 for fractions (all means below 10 in magnitude)."""
    means = [abs(stat["mean"]) for row in aggregated.values() for stat in row.get(key, {}).values()]
    return 4 if means and max(means) < 10 else 2


def format_table(aggregated: dict[str, Any], budgets: list[int], report_metric: str = "test_acc",
                 search_metric: str | None = None) -> str:
    """A Markdown table of the aggregate (mean ± 95% half-width); the search metric's best-so-far first when the
    rows have it (``search_metric`` given), latent columns when any run has them."""
    latent = any("icnn_tau_unqueried" in row or "improving_latent_steps" in row for row in aggregated.values())
    search = search_metric is not None and all("search_at_budget" in row for row in aggregated.values())
    head = ["method", "seeds"] + ([f"{search_metric}@{b}" for b in budgets] if search else [])
    head += [f"{report_metric}@{b}" for b in budgets] + ["median queries to optimum", "mean s/run"]
    if latent:
        head += ["ICNN tau (unqueried)", "improving latent steps"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    horizon = max(budgets)

    def interval(stat: dict[str, float] | None, digits: int) -> str:
        return "–" if stat is None else _plus_minus(stat, digits)

    for method, row in aggregated.items():
        cells = [method, str(row["seeds"])]
        if search:
            cells += [interval(row["search_at_budget"][str(b)], _digits(aggregated, "search_at_budget")) for b in budgets]
        cells += [interval(row["at_budget"][str(b)], _digits(aggregated, "at_budget")) for b in budgets]
        median = row["median_queries_to_optimum"]
        cells.append(f"{median:g}" if median is not None else f"> {horizon}")
        cells.append(f"{row['mean_wall_seconds']:.1f}")
        if latent:
            cells += [interval(row.get("icnn_tau_unqueried"), 3), interval(row.get("improving_latent_steps"), 2)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("± is the half-width of the 95% Student-t interval of the mean over seeds; runs that never queried "
                 "the optimum count as infinitely many queries in the median.")
    return "\n".join(lines) + "\n"


def _check_compare_run(config_json: dict[str, Any], folder: Path, out: Path) -> None:
    """`check_folder_config` with a message naming the budget when only the budget differs.

    Raises:
        FileExistsError: ``folder`` holds another run (for a budget change: what it ran to and what to pass).
    """
    try:
        check_folder_config(config_json, folder)
    except FileExistsError:
        existing = read_json_file(folder / "config.json")
        old = existing.get("budget") if isinstance(existing, dict) else None
        if old is None or not _same_run({**existing, "budget": config_json["budget"]}, config_json):
            raise
        where = folder.relative_to(out) if folder.is_relative_to(out) else folder
        raise RunExistsError(
            f"{where} ran to budget {old}, this compare's largest budget is {config_json['budget']}; finished runs are not "
            f"extended or cut: pass --budgets ending at {old} for {out} (smaller budgets are read from the same runs), "
            "or choose a new --out") from None


def folder_runs(out: str | Path, *, skip: set[Path], horizon: int, base: RunConfig) -> tuple[list[dict[str, Any]], list[str]]:
    """Summaries of the finished runs in ``out/runs/<name>/seed_<s>/`` outside ``skip``, and why others were left out.

    A run is aggregated when it searched the same space, dataset and metrics as ``base`` and reached
    ``horizon`` queries (a longer run is read up to each budget, as every compare run is); an unfinished
    run, or one on other settings, is left out with a one-phrase reason naming its folder.
    """
    out = Path(out)
    kept, left_out = [], []
    for folder in sorted(p for p in out.glob("runs/*/seed_*") if p.is_dir() and p.resolve() not in skip):
        where = folder.relative_to(out).as_posix()
        if not (folder / "summary.json").exists():
            left_out.append(f"{where} (unfinished: no summary.json)")
            continue
        if not (folder / "config.json").exists():
            left_out.append(f"{where} (no config.json)")
            continue
        config, summary = read_json_file(folder / "config.json"), read_json_file(folder / "summary.json")
        differs = [key for key in ("space", "dataset", "search_metric", "report_metric")
                   if config.get(key) != getattr(base, key)]
        if differs:
            left_out.append(f"{where} (other {', '.join(differs)})")
        elif len(summary.get("best_so_far", [])) < horizon:
            left_out.append(f"{where} (ran to {len(summary.get('best_so_far', []))} queries, fewer than {horizon})")
        else:
            kept.append(summary)
    return kept, left_out


def shared_initial_queries(folders: Mapping[tuple[str, int], Path]) -> int | None:
    """How many first queries every run of a seed has in common, whatever its method.

    ``folders`` maps ``(run name, seed)`` to a run folder. Returns the shortest common prefix of the
    logged genotypes over the seeds run by two or more names, or None when no seed was.
    """
    by_seed: dict[int, list[list[str]]] = {}
    for (_, seed), folder in folders.items():
        by_seed.setdefault(seed, []).append([r["genotype"] for r in read_queries(Path(folder) / "queries.jsonl")])
    shared = None
    for logs in by_seed.values():
        if len(logs) < 2:
            continue
        k = 0
        while all(len(log) > k for log in logs) and len({log[k] for log in logs}) == 1:
            k += 1
        shared = k if shared is None else min(shared, k)
    return shared


def shared_queries_note(shared: int | None) -> str:
    """One sentence on `shared_initial_queries` for a plot caption ('' when no seed had two methods)."""
    if shared is None:
        return ""
    if shared == 0:
        return "The methods do not share initial queries: at each seed their first cells differ."
    return (f"At each seed every method's first {shared} queries are the same cells (one seeded random draw), "
            f"so the curves agree up to query {shared}.")


def run_comparison(
    *,
    methods: list[str],
    seeds: list[int],
    budgets: list[int],
    out_dir: str | Path,
    base: RunConfig | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    pairs: list[tuple[str, str]] | None = None,
    tensorboard: str | Path | None = None,
    cache_dir: str | None = None,
) -> dict[str, Any]:
    """Every method x seed to ``max(budgets)`` through ``executor``; then table, JSON and plot.

    ``methods`` are searcher names or variant names (`crlso.search.variants`); ``options`` are keyed by
    the same names. Runs live in ``out_dir/runs/<name>/seed_<s>``; finished ones are read back, killed ones resume.
    ``executor`` defaults to a local process pool of ``workers`` processes (`crlso.execution.executors`).
    ``pairs`` of names get seed-paired differences (`paired_differences`) in ``paired.md`` and the JSON.
    ``tensorboard``: a folder for each run's TensorBoard scalars, in ``<tensorboard>/<name>/seed_<s>``, or None.
    ``cache_dir``: the pre-trained models' cache of every method that has one (`crlso.search.variants.resolve_method`).
    The table, JSON and plot aggregate every finished run in ``out_dir/runs`` (`folder_runs`), not only this
    call's; ``compare.json`` lists what was left out and why (``left_out``), and ``table.md`` says so too.

    Raises:
        FileExistsError: a run folder holds another config (for a budget change, a message naming both budgets).
    """
    out = Path(out_dir)
    base = base or RunConfig()
    options = options or {}
    # fails fast on a bad name or option
    runs = {name: resolve_method(name, options.get(name), space=base.space, cache_dir=cache_dir) for name in methods}
    plugins = plugin_modules([method for method, _, _ in runs.values()], base.oracle_spec())
    horizon = max(budgets)
    tasks = []
    for seed in seeds:
        for name, (method, variant, method_options) in runs.items():
            config = dataclasses.replace(base, method=method, variant=variant, seed=seed, budget=horizon, options=method_options)
            board = None if tensorboard is None else str(Path(tensorboard) / name / f"seed_{seed}")
            tasks.append((config, str(out / "runs" / name / f"seed_{seed}"), board, plugins))
    # Inputs the workers would fail on, every time, checked once here: the table, and folders of other runs.
    oracle_name = base.oracle_spec()["name"]
    if oracle_name != "supernet" and has_table(base.space):
        table = check_budget(load_table(base.dataset, base.data_dir, base.space), horizon, base.dataset)
        table.metric(base.report_metric)
        if oracle_name == "table":
            table.metric(base.search_metric)
    for config, folder, _, _ in tasks:
        _check_compare_run(config.to_json(), Path(folder), out)
    # Pre-train each shared unlabelled VAE into its disk cache once, before the workers start (they load it).
    pretrains = {(cfg.model, cfg.pretrain, cfg.cache_dir) for cfg in (searcher_config(m, o) for m, _, o in runs.values())
                 if hasattr(cfg, "pretrain") and not getattr(cfg, "model_dir", "")}
    if pretrains:
        from crlso.models.training import cached_pretrained_vae

        for model, pretrain, cache_dir in pretrains:
            cached_pretrained_vae(model, pretrain, cache_dir=cache_dir or None, progress=progress)
    executor = executor or LocalExecutor(workers=workers)
    workers = executor.workers
    started = time.perf_counter()
    extra: dict[str, Any] = {}  # executors written before task resources existed take none
    resources = getattr(parse_oracle(base.oracle_spec(), space=base.space)[1], "resources", None)
    if resources is not None:  # e.g. each run trains its cells in its own task: it reserves what one training needs
        extra["resources"] = resources
    summaries = executor.map(_run_task, tasks, desc="runs", progress=progress, **extra)
    elapsed = time.perf_counter() - started
    others, left_out = folder_runs(out, skip={Path(folder).resolve() for _, folder, _, _ in tasks}, horizon=horizon, base=base)
    summaries += others
    names = list(dict.fromkeys([*methods, *sorted(run_name(s) for s in others)]))
    summaries.sort(key=lambda s: (names.index(run_name(s)), s["seed"]))
    aggregated = aggregate(summaries, budgets)
    result = {
        "methods": names, "seeds": sorted({s["seed"] for s in summaries}), "budgets": budgets,
        "this_invocation": {"methods": methods, "seeds": seeds}, "left_out": left_out,
        "workers": workers, "executor": executor.name,
        "wall_seconds": elapsed, "report_metric": base.report_metric, "search_metric": base.search_metric,
        "dataset": base.dataset, "space": base.space, "results": aggregated,
    }
    # runs of other names found in the folder are paired with the first method, as the CLI pairs its own names
    pairs = list(pairs or []) + [(methods[0], name) for name in names if name not in methods]
    paired = paired_differences(summaries, pairs, budgets)
    if paired:
        result["paired_differences"] = paired
    write_json_atomic(out / "compare.json", result)
    from nasspace.atomic import write_text_atomic
    from crlso.report.plots import plot_best_so_far

    table_md = format_table(aggregated, budgets, base.report_metric, search_metric=base.search_metric)
    if left_out:
        table_md += "\nLeft out of this table: " + "; ".join(left_out) + ".\n"
    write_text_atomic(out / "table.md", table_md)
    if paired:
        write_text_atomic(out / "paired.md", format_paired(paired, budgets, base.report_metric, search_metric=base.search_metric))
    else:  # a paired.md of an earlier invocation would no longer match compare.json
        (out / "paired.md").unlink(missing_ok=True)
    shared = shared_initial_queries({(run_name(s), s["seed"]): out / "runs" / run_name(s) / f"seed_{s['seed']}" for s in summaries})
    optimum = None if oracle_name == "supernet" or not has_table(base.space) else float(np.max(load_table(base.dataset, base.data_dir, base.space).metric(base.report_metric)))
    plot_best_so_far(summaries, out / "best_so_far.png", report_metric=base.report_metric, budgets=budgets,
                     optimum=optimum, note=shared_queries_note(shared))
    return result
