"""Run folders, resume, and multi-seed multi-method comparisons.

A run folder holds:

- ``config.json``: the resolved `RunConfig` (written atomically before the first query);
- ``queries.jsonl``: one JSON line per charged query (``step``, ``genotype`` as the canonical
  string, ``value`` of the search metric, ``cost``, ``total_cost``, and its provenance: ``source``
  and the searcher's extra keys, e.g. a latent step's ``start``, ``start_value``, ``icnn_start``,
  ``icnn_end``), appended and flushed as each query is answered;
- ``summary.json``: written atomically when the run ends (best genotype, its reporting metric,
  best-so-far curve, queries to the table optimum, wall time, queries per source, the share of
  latent steps that beat their starting cell, and for latent searchers the Kendall tau of the
  final ICNN against the table's search metric on the cells the run never queried);
- ``latent_space.pt`` (latent searchers): the VAE and head the search ended with, so that
  ``crlso report`` draws the space the search actually used;
- ``evaluations/<key>/`` (training oracle, `crlso.oracles`): one resumable folder per trained genotype;
  its log lines add each evaluation's ``wall_seconds``, ``params``, ``flops`` and folder, and the summary
  names the executor that ran them (``executor``).

Opening a folder that holds the same config resumes it: logged queries are replayed into the
oracle and checked against the re-run seeded searcher (`crlso.search.base.run_search`), so the
finished run has exactly the queries of an uninterrupted one. A folder with a different config is
an error. Only this layer reads the reporting metric (test accuracy), after the search.

What keeps a folder trustworthy lives in `crlso.run_folder`: one writer at a time (a lock), the log
read strictly (only a torn last line is dropped; any other bad line is an error naming it), and on
a table every logged value checked against the table before it is replayed. A budget above the
table's cells is refused before any work; a searcher that runs out of cells ends with its summary
(``ended_early``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from nasspace import get_space
from nasspace.options import AT_LEAST_ONE, check_numbers
from nasspace.oracle import Oracle, Query

from crlso.models.torch_files import save_torch_atomic
from nasspace.atomic import write_json_atomic
from crlso.executors import Executor, LocalExecutor
from crlso.run_folder import check_logged, lock_run_folder, read_json_file, read_queries, remove_stale_temporaries
from crlso.search.base import create_searcher, run_search, searcher_config

__all__ = [
    "RunConfig",
    "run_experiment",
    "run_comparison",
    "aggregate",
    "format_table",
    "mean_ci",
    "read_queries",
    "load_table",
    "best_so_far",
    "queries_to_optimum",
    "summarize",
    "paired_differences",
    "format_paired",
    "run_name",
    "folder_runs",
    "shared_initial_queries",
    "shared_queries_note",
]


@dataclass(frozen=True)
class RunConfig:
    """One search run: method, space, benchmark, budget, seed, and the method's options.

    ``variant`` names the `crlso.search.variants` entry the options came from (tables group by it).
    ``oracle`` (None: the table, or the supernet when ``supernet`` is set) is a `crlso.oracles` entry such as
    ``{"name": "train", ...}`` (a `crlso.oracles.TrainProxy`); ``budget_seconds`` caps the oracle's total
    cost (seconds of training) beside ``budget`` queries; ``batch`` is the proposals per round
    (None: whatever the searcher proposes at once).
    """

    method: str = "crlso"
    space: str = "nb201"
    dataset: str = "cifar10"
    budget: int = 100
    seed: int = 0
    search_metric: str = "valid_acc"
    report_metric: str = "test_acc"
    options: Mapping[str, Any] = field(default_factory=dict)
    data_dir: str | None = None
    supernet: str | None = None
    variant: str | None = None
    oracle: Mapping[str, Any] | None = None
    budget_seconds: float | None = None
    batch: int | None = None

    def __post_init__(self) -> None:
        check_numbers(self, {"budget": AT_LEAST_ONE, "batch": AT_LEAST_ONE})
        if self.oracle is not None:
            from crlso.oracles import TrainProxy

            proxy = TrainProxy.from_json(self.oracle)  # validated before any work
            if proxy.space != self.space:
                raise ValueError(f"the training oracle is set up for {proxy.space} cells, the search is in {self.space}")
        if self.data_dir is not None:  # stored resolved: a resume from another folder reads the same tables
            object.__setattr__(self, "data_dir", str(Path(self.data_dir).expanduser().resolve()))

    def to_json(self) -> dict[str, Any]:
        """The config as plain JSON data, with the method's fully resolved options beside it.

        ``supernet``, ``variant``, ``oracle``, ``budget_seconds`` and ``batch`` appear only when set, so run
        folders written before they existed still resume.
        """
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if data["oracle"] is not None:
            data["oracle"] = dict(data["oracle"])
        for optional in ("supernet", "variant", "oracle", "budget_seconds", "batch"):
            if data[optional] is None:
                del data[optional]
        data["options"] = dict(self.options)
        data["resolved_options"] = searcher_config(self.method, self.options)
        return _jsonable(data)


def _jsonable(data: Any) -> Any:
    def default(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return dataclasses.asdict(obj)
        return str(obj)

    return json.loads(json.dumps(data, default=default))


@lru_cache(maxsize=4)
def load_table(dataset: str, data_dir: str | None = None):
    """The NB201 table of a dataset (kept per process)."""
    from nasspace.benchmarks.nb201 import NB201Table
    from nasspace.fetch import DataStore

    return NB201Table(dataset, store=DataStore(data_dir))


def best_so_far(values: list[float], report: list[float]) -> list[float]:
    """``report`` of the best-``values`` entry among the first k, for every k (earliest on ties)."""
    out, best_value, best_report = [], float("-inf"), float("nan")
    for value, rep in zip(values, report):
        if value > best_value:
            best_value, best_report = value, rep
        out.append(best_report)
    return out


def queries_to_optimum(genotypes: list[str], optimum: str) -> int | None:
    """1-based step at which ``optimum`` was queried, or None if it never was."""
    return genotypes.index(optimum) + 1 if optimum in genotypes else None


def _same_run(existing: dict[str, Any], current: dict[str, Any]) -> bool:
    """Whether a run folder's config is this run's: equal, except that resolved options added to the
    searcher since the folder was written (at their defaults, as the user did not set them) are ignored."""

    def covers(old: Any, new: Any) -> bool:
        if isinstance(old, dict) and isinstance(new, dict):
            return set(old) <= set(new) and all(covers(old[k], new[k]) for k in old)
        return old == new

    rest = lambda config: {k: v for k, v in config.items() if k != "resolved_options"}  # noqa: E731
    return rest(existing) == rest(current) and covers(existing.get("resolved_options", {}), current.get("resolved_options", {}))


def run_experiment(config: RunConfig, out_dir: str | Path, *, progress: bool = True,
                   tensorboard: str | Path | None = None, executor: Executor | None = None) -> dict[str, Any]:
    """Run (or resume, or just read back) one search into ``out_dir``; returns its summary.

    ``tensorboard``: a folder for TensorBoard scalars of the queries answered in this call
    (``search/value``, ``search/best_so_far``; `nasspace.tracking`), or None.
    ``executor`` runs a training oracle's evaluations of each round in parallel (None: here, one by one);
    it does not change the queries, only where and how fast they are computed.

    The folder is locked while the run writes (`crlso.run_folder.lock_run_folder`); its log is read
    strictly and, on a table, each logged value is checked against the table before it is replayed.

    Raises:
        FileExistsError: ``out_dir`` holds a run with a different config.
        RunFolderBusy: another process is writing into ``out_dir``.
        RunLogError: a line of ``queries.jsonl`` is malformed or disagrees with the table (names the line).
        ValueError: the budget exceeds the number of distinct cells of the table.
    """
    from nasspace.tracking import open_tracker

    out = Path(out_dir)
    config_json = config.to_json()  # validates the method and its options first
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file, not a run folder")
    out.mkdir(parents=True, exist_ok=True)
    with lock_run_folder(out), open_tracker(tensorboard) as tracker:
        remove_stale_temporaries(out)
        return _run_locked(config, config_json, out, progress, tracker, executor)


def check_folder_config(config_json: dict[str, Any], out: Path) -> bool:
    """Whether ``out`` already holds this run's config (False when it holds none).

    Raises:
        FileExistsError: it holds another run's config.
        RunFolderError: its ``config.json`` does not parse.
    """
    config_path = out / "config.json"
    if not config_path.exists():
        return False
    existing = read_json_file(config_path)
    if not isinstance(existing, dict) or not _same_run(existing, config_json):
        raise FileExistsError(f"{out} holds a run with another config; choose a new --out or delete it")
    return True


def _run_locked(config: RunConfig, config_json: dict[str, Any], out: Path, progress: bool, tracker: Any,
                executor: Executor | None) -> dict[str, Any]:
    config_path, log_path, summary_path = out / "config.json", out / "queries.jsonl", out / "summary.json"
    if check_folder_config(config_json, out) and summary_path.exists():
        return read_json_file(summary_path)

    # Oracle and searcher first: a config that cannot run leaves no config.json behind to block a fixed one.
    space = get_space(config.space)
    prefetch = info = None
    checked_table = None  # the table the logged values must match (None when the values come from elsewhere)
    if config.oracle is not None:  # training: the table, if any, only reports after the search
        from crlso.oracles import make_oracle

        table = load_table(config.dataset, config.data_dir) if config.space == "nb201" else None
        if table is not None and config.budget > len(table):
            raise ValueError(f"budget {config.budget} exceeds the {len(table)} distinct cells of the {config.dataset} table; "
                             f"allowed: 1..{len(table)}")
        oracle, prefetch, info = make_oracle(config.oracle, out, budget=config.budget, cost_budget=config.budget_seconds,
                                             metric=config.search_metric, executor=executor)
    elif config.supernet is None:
        table = load_table(config.dataset, config.data_dir)
        if config.budget > len(table):
            raise ValueError(f"budget {config.budget} exceeds the {len(table)} distinct cells of the {config.dataset} table; "
                             f"allowed: 1..{len(table)}")
        oracle = Oracle.from_table(table, metric=config.search_metric, budget=config.budget)
        checked_table = table
    else:  # no table for this space: a supernet's inherited-weights accuracy is the search metric
        from crlso.search.hybrid import supernet_oracle

        table, oracle = None, supernet_oracle(config.supernet, budget=config.budget, metric=config.search_metric)
    model_dir = dict(config.options).get("model_dir")
    if model_dir:  # a crlso train model must match the run's space, dataset and metric
        from crlso.models.checkpoints import check_trained_model

        check_trained_model(model_dir, space=config.space, dataset=config.dataset, metric=config.search_metric)
    searcher = create_searcher(config.method, space, seed=config.seed, options=config.options)
    records = read_queries(log_path)[: config.budget]  # before config.json: a bad log leaves a fresh folder as it was
    replayed = check_logged(records, log_path, space=space, table=checked_table, metric=config.search_metric)
    if not config_path.exists():
        write_json_atomic(config_path, config_json)
    oracle.replay(replayed)
    logged = oracle.history

    start = time.perf_counter()
    best = max((q.value for q in logged), default=float("-inf"))  # best-so-far goes on from a resumed run's queries
    with open(log_path, "a") as log:

        def append(query: Query) -> None:
            nonlocal best
            line = {"step": query.step, "genotype": str(query.genotype), "value": query.value,
                    "cost": query.cost, "total_cost": query.total_cost, **searcher.provenance(query.genotype),
                    **(info(query.genotype) if info is not None else {})}
            log.write(json.dumps(line) + "\n")
            log.flush()
            os.fsync(log.fileno())
            best = max(best, query.value)
            tracker.scalar("search/value", query.value, query.step)
            tracker.scalar("search/best_so_far", best, query.step)

        session = executor.session() if executor is not None and prefetch is not None else contextlib.nullcontext()
        with session:
            queries = run_search(searcher, oracle, budget=config.budget, logged=logged, on_query=append,
                                 progress=progress, desc=f"{config.method} seed {config.seed}", batch=config.batch,
                                 prefetch=prefetch)
    elapsed = time.perf_counter() - start
    summary = summarize(config, [str(q.genotype) for q in queries], [q.value for q in queries], table)
    summary["wall_seconds"] = elapsed  # of this session only, when the run was resumed
    summary["resumed_from_step"] = len(logged)
    if prefetch is not None:
        summary["executor"] = executor.describe() if executor is not None else {"name": "in-process", "workers": 1}
        summary["total_cost_seconds"] = oracle.total_cost
    if len(queries) < config.budget and oracle.exhausted:
        summary["ended_early"] = f"the oracle's cost budget ({config.budget_seconds:g} s) was spent after {len(queries)} queries"
    elif len(queries) < config.budget:  # the searcher ran out of cells (run_search warned)
        summary["ended_early"] = f"{config.method} found no unseen cell after {len(queries)} of {config.budget} queries"
    if callable(getattr(searcher, "stats", None)):  # e.g. the hybrid's seeds, screened and proposed cells
        summary["searcher_stats"] = searcher.stats()
    summary.update(provenance_summary([searcher.provenance(q.genotype) for q in queries], [q.value for q in queries]))
    if callable(getattr(searcher, "model_scores", None)) and checked_table is not None:
        summary["icnn_tau_unqueried"] = head_tau(searcher.model_scores(), table, config.search_metric,
                                                 {str(q.genotype) for q in queries})
    if callable(getattr(searcher, "latent_state", None)):
        save_torch_atomic(out / "latent_space.pt", searcher.latent_state())
    write_json_atomic(summary_path, summary)
    return summary


def provenance_summary(provenance: list[dict[str, Any]], values: list[float]) -> dict[str, Any]:
    """Queries per ``source``, and how the latent steps (those with a ``start_value``) fared.

    Returns ``{"sources": {name: count}, "latent_steps": {"count", "improving", "improving_share"}}``;
    a step improves when its cell's value beats the value of the cell it started from.
    """
    sources: dict[str, int] = {}
    steps = improving = 0
    for info, value in zip(provenance, values):
        sources[info["source"]] = sources.get(info["source"], 0) + 1
        if "start_value" in info:
            steps += 1
            improving += int(value > info["start_value"])
    return {"sources": sources, "latent_steps": {"count": steps, "improving": improving,
                                                 "improving_share": improving / steps if steps else None}}


def head_tau(scores: Mapping[str, float], table, metric: str, queried: set[str]) -> float:
    """Kendall tau between -predicted error and the table's ``metric`` over the table cells not in ``queried``."""
    from scipy import stats

    rows = [(scores[str(g)], value) for g, value in zip(table.genotypes, table.metric(metric))
            if str(g) in scores and str(g) not in queried]
    predicted, truth = zip(*rows)
    return float(stats.kendalltau(-np.asarray(predicted), np.asarray(truth)).statistic)



def summarize(config: RunConfig, genotypes: list[str], values: list[float], table) -> dict[str, Any]:
    """Best genotype by the search metric, its reporting metric, curves and queries to optimum.

    Without a table (``table=None``: a supernet oracle, or training in the darts space) the search metric
    is all there is: it is reported in place of the reporting metric, and there is no known optimum.
    """
    if table is None:
        config = dataclasses.replace(config, report_metric=config.search_metric)
        report, optimum = list(values), None
    else:
        report = [table.query(g, config.report_metric) for g in genotypes]
        optimum = (str(table.genotypes[int(np.argmax(table.metric(config.search_metric)))])
                   if config.search_metric in table.available_metrics() else None)  # a trained proxy has no table optimum
    best = int(np.argmax(values)) if values else None  # argmax: earliest on ties
    return {
        "method": config.method,
        **({"variant": config.variant} if config.variant else {}),
        "seed": config.seed,
        "budget": config.budget,
        "n_queries": len(genotypes),
        "search_metric": config.search_metric,
        "report_metric": config.report_metric,
        "best": None if best is None else {
            "step": best + 1, "genotype": genotypes[best], config.search_metric: values[best],
            config.report_metric: report[best],
        },
        "best_so_far": best_so_far(values, report),
        "optimum": optimum,
        "queries_to_optimum": None if optimum is None else queries_to_optimum(genotypes, optimum),
    }


# -- comparisons ----------------------------------------------------------------------------------
def _run_task(task: tuple[RunConfig, str, str | None]) -> dict[str, Any]:
    config, out_dir, tensorboard = task
    return run_experiment(config, out_dir, progress=False, tensorboard=tensorboard)


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
        taus = [(by_name[a][s].get("icnn_tau_unqueried"), by_name[b][s].get("icnn_tau_unqueried")) for s in seeds]
        if all(x is not None and y is not None for x, y in taus):
            row["icnn_tau_unqueried"] = dict(zip(("mean", "ci95"), mean_ci([x - y for x, y in taus])))
        rows.append(row)
    return rows


def format_paired(rows: list[dict[str, Any]], budgets: list[int], report_metric: str = "test_acc") -> str:
    """A Markdown table of `paired_differences` (mean ± 95% half-width of a - b)."""
    head = ["a - b", "seeds"] + [f"Δ {report_metric}@{b}" for b in budgets] + ["Δ ICNN tau"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [f"{row['a']} - {row['b']}", str(row["seeds"])]
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


def format_table(aggregated: dict[str, Any], budgets: list[int], report_metric: str = "test_acc") -> str:
    """A Markdown table of the aggregate (mean ± 95% half-width); latent columns when any run has them."""
    latent = any("icnn_tau_unqueried" in row or "improving_latent_steps" in row for row in aggregated.values())
    head = ["method", "seeds"] + [f"{report_metric}@{b}" for b in budgets] + ["median queries to optimum", "mean s/run"]
    if latent:
        head += ["ICNN tau (unqueried)", "improving latent steps"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    horizon = max(budgets)

    def interval(stat: dict[str, float] | None, digits: int) -> str:
        return "–" if stat is None else _plus_minus(stat, digits)

    for method, row in aggregated.items():
        cells = [method, str(row["seeds"])]
        cells += [interval(row["at_budget"][str(b)], 2) for b in budgets]
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


def _method_of(name: str, options: Mapping[str, Any] | None) -> tuple[str, str | None, dict[str, Any]]:
    """``(method, variant or None, options)`` of a compare entry: a searcher name or a `crlso.search.variants` name.

    Raises:
        ValueError: neither a searcher nor a variant, or a bad option (lists the valid ones).
    """
    from crlso.search.base import list_searchers
    from crlso.search.variants import VARIANTS, resolve_variant

    if name in list_searchers() or name not in VARIANTS:
        searcher_config(name, options)  # raises for an unknown name: it lists the searchers
        return name, None, dict(options or {})
    method, merged = resolve_variant(name, options)
    searcher_config(method, merged)
    return method, name, merged


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
        raise FileExistsError(
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
) -> dict[str, Any]:
    """Every method x seed to ``max(budgets)`` through ``executor``; then table, JSON and plot.

    ``methods`` are searcher names or variant names (`crlso.search.variants`); ``options`` are keyed by
    the same names. Runs live in ``out_dir/runs/<name>/seed_<s>``; finished ones are read back, killed ones resume.
    ``executor`` defaults to a local process pool of ``workers`` processes (`crlso.executors`).
    ``pairs`` of names get seed-paired differences (`paired_differences`) in ``paired.md`` and the JSON.
    ``tensorboard``: a folder for each run's TensorBoard scalars, in ``<tensorboard>/<name>/seed_<s>``, or None.
    The table, JSON and plot aggregate every finished run in ``out_dir/runs`` (`folder_runs`), not only this
    call's; ``compare.json`` lists what was left out and why (``left_out``), and ``table.md`` says so too.

    Raises:
        FileExistsError: a run folder holds another config (for a budget change, a message naming both budgets).
    """
    out = Path(out_dir)
    base = base or RunConfig()
    options = options or {}
    runs = {name: _method_of(name, options.get(name)) for name in methods}  # fails fast on a bad name or option
    horizon = max(budgets)
    tasks = []
    for seed in seeds:
        for name, (method, variant, method_options) in runs.items():
            config = dataclasses.replace(base, method=method, variant=variant, seed=seed, budget=horizon, options=method_options)
            board = None if tensorboard is None else str(Path(tensorboard) / name / f"seed_{seed}")
            tasks.append((config, str(out / "runs" / name / f"seed_{seed}"), board))
    # Inputs the workers would fail on, every time, checked once here: the table, and folders of other runs.
    if base.supernet is None and base.space == "nb201":
        table = load_table(base.dataset, base.data_dir)
        if horizon > len(table):
            raise ValueError(f"budget {horizon} exceeds the {len(table)} distinct cells of the {base.dataset} table; "
                             f"allowed: 1..{len(table)}")
        table.metric(base.report_metric)
        if base.oracle is None:
            table.metric(base.search_metric)
    for config, folder, _ in tasks:
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
    if base.oracle is not None:  # each run trains its cells in its own task: it reserves what one training needs
        from crlso.oracles import TrainProxy

        extra["resources"] = TrainProxy.from_json(base.oracle).resources
    summaries = executor.map(_run_task, tasks, desc="runs", progress=progress, **extra)
    elapsed = time.perf_counter() - started
    others, left_out = folder_runs(out, skip={Path(folder).resolve() for _, folder, _ in tasks}, horizon=horizon, base=base)
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
    from crlso.plots import plot_best_so_far

    table_md = format_table(aggregated, budgets, base.report_metric)
    if left_out:
        table_md += "\nLeft out of this table: " + "; ".join(left_out) + ".\n"
    write_text_atomic(out / "table.md", table_md)
    if paired:
        write_text_atomic(out / "paired.md", format_paired(paired, budgets, base.report_metric))
    else:  # a paired.md of an earlier invocation would no longer match compare.json
        (out / "paired.md").unlink(missing_ok=True)
    shared = shared_initial_queries({(run_name(s), s["seed"]): out / "runs" / run_name(s) / f"seed_{s['seed']}" for s in summaries})
    optimum = None if base.supernet is not None else float(np.max(load_table(base.dataset, base.data_dir).metric(base.report_metric)))
    plot_best_so_far(summaries, out / "best_so_far.png", report_metric=base.report_metric, budgets=budgets,
                     optimum=optimum, note=shared_queries_note(shared))
    return result
