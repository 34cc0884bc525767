"""One search run in its run folder, and its resume (multi-seed comparisons: `crlso.experiments.compare`).

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

What keeps a folder trustworthy lives in `crlso.experiments.run_folder`: one writer at a time (a lock), the log
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
from pathlib import Path
from typing import Any

import numpy as np

from nasspace import get_space
from nasspace.atomic import write_json_atomic
from nasspace.options import AT_LEAST_ONE, check_numbers
from nasspace.oracle import Query

from crlso.execution.executors import Executor
from crlso.experiments.run_folder import check_logged, lock_run_folder, read_json_file, read_queries, remove_stale_temporaries
from crlso.models.torch_files import save_torch_atomic
from crlso.oracles.registry import OracleContext, pick_oracle
from crlso.search.base import create_searcher, run_search, searcher_config
from crlso.errors import NotAFolderError, RunExistsError

__all__ = [
    "RunConfig",
    "run_experiment",
    "check_folder_config",
    "best_so_far",
    "queries_to_optimum",
    "summarize",
    "provenance_summary",
    "head_tau",
]


@dataclass(frozen=True)
class RunConfig:
    """One search run: method, space, benchmark, budget, seed, and the method's options.

    ``variant`` names the `crlso.search.variants` entry the options came from (tables group by it).
    ``oracle`` (None: the table, or the supernet when ``supernet`` is set) is a registered oracle's entry
    (`crlso.oracles.registry`), such as ``{"name": "train", ...}`` (a `crlso.oracles.TrainProxy`); ``budget_seconds`` caps the oracle's total
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
    space_file: str | None = None
    table_file: str | None = None

    def __post_init__(self) -> None:
        check_numbers(self, {"budget": AT_LEAST_ONE, "batch": AT_LEAST_ONE})
        if self.oracle is not None:  # validated before any work
            from crlso.oracles.registry import parse_oracle

            parse_oracle(self.oracle, space=self.space)
        for name in ("space_file", "table_file"):  # stored resolved: a worker or a resume reads the same files
            if getattr(self, name) is not None:
                object.__setattr__(self, name, str(Path(getattr(self, name)).expanduser().resolve()))
        if self.data_dir is not None:  # stored resolved: a resume from another folder reads the same tables
            object.__setattr__(self, "data_dir", str(Path(self.data_dir).expanduser().resolve()))

    def oracle_spec(self) -> dict[str, Any]:
        """The run's oracle entry (`crlso.oracles.pick_oracle`): ``oracle`` when set, else the supernet or the table."""
        if self.oracle is not None:
            return dict(self.oracle)
        return {"name": "supernet", "path": self.supernet} if self.supernet is not None else {"name": "table"}

    def to_json(self) -> dict[str, Any]:
        """The config as plain JSON data, with the method's fully resolved options beside it.

        ``supernet``, ``variant``, ``oracle``, ``budget_seconds`` and ``batch`` appear only when set, so run
        folders written before they existed still resume.
        """
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if data["oracle"] is not None:
            data["oracle"] = dict(data["oracle"])
        for optional in ("supernet", "variant", "oracle", "budget_seconds", "batch", "space_file", "table_file"):
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

    The folder is locked while the run writes (`crlso.experiments.run_folder.lock_run_folder`); its log is read
    strictly and, on a table, each logged value is checked against the table before it is replayed.

    Raises:
        FileExistsError: ``out_dir`` holds a run with a different config.
        RunFolderBusy: another process is writing into ``out_dir``.
        RunLogError: a line of ``queries.jsonl`` is malformed or disagrees with the table (names the line).
        ValueError: the budget exceeds the number of distinct cells of the table.
    """
    from nasspace.tracking import open_tracker

    out = Path(out_dir)
    if config.space_file is not None:  # a user's space: registered in this process too (compare workers, resumes)
        from nasspace.benchmarks.user import register_user_benchmark

        register_user_benchmark(config.space_file, config.table_file, search_metric=config.search_metric,
                                report_metric=config.report_metric)
    config_json = config.to_json()  # validates the method and its options first
    if out.exists() and not out.is_dir():
        raise NotAFolderError(f"--out {out} is a file, not a run folder")
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
        raise RunExistsError(f"{out} holds a run with another config; choose a new --out or delete it")
    return True


def _run_locked(config: RunConfig, config_json: dict[str, Any], out: Path, progress: bool, tracker: Any,
                executor: Executor | None) -> dict[str, Any]:
    config_path, log_path, summary_path = out / "config.json", out / "queries.jsonl", out / "summary.json"
    if check_folder_config(config_json, out) and summary_path.exists():
        summary = read_json_file(summary_path)
        if "best_so_far_search" not in summary:  # written before the field existed: the values are in the log
            values = [float(record["value"]) for record in read_queries(log_path)]
            summary["best_so_far_search"] = [float(v) for v in np.maximum.accumulate(values)] if values else []
        return summary

    # Oracle and searcher first: a config that cannot run leaves no config.json behind to block a fixed one.
    space = get_space(config.space)
    context = OracleContext(space=config.space, dataset=config.dataset, budget=config.budget, metric=config.search_metric,
                            out=out, data_dir=config.data_dir, budget_seconds=config.budget_seconds, executor=executor)
    oracle, table, checked_table, prefetch, info = pick_oracle(config.oracle_spec(), context)
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
        "best_so_far_search": [float(v) for v in np.maximum.accumulate(values)] if values else [],
        "optimum": optimum,
        "queries_to_optimum": None if optimum is None else queries_to_optimum(genotypes, optimum),
    }
