"""Experiments, one module per concept:

- `crlso.experiments.run`: one search run in its run folder (config, query log, summary), and its resume;
- `crlso.experiments.compare`: multi-seed multi-method comparisons and their tables;
- `crlso.experiments.run_folder`: what keeps a run folder trustworthy (lock, strict log reading);
- `crlso.experiments.train`: the ``crlso train`` workflow (VAE, ranking model, latent fit, model folder);
- `crlso.experiments.finalize`: the final training of a search's best cells;
- `crlso.experiments.oracle_bench`: how well the training oracle ranks cells against a table.

Where the runs execute (a local process pool, Ray) is `crlso.execution`, below the oracles. Names are imported
from their module on first use.
"""

from __future__ import annotations

from crlso._lazy import lazy_exports

_EXPORTS = {
    "crlso.experiments.run": ["RunConfig", "run_experiment", "check_folder_config", "best_so_far", "queries_to_optimum", "summarize", "provenance_summary", "head_tau"],
    "crlso.experiments.compare": ["run_comparison", "aggregate", "format_table", "mean_ci", "paired_differences", "format_paired", "run_name", "folder_runs", "shared_initial_queries", "shared_queries_note"],
    "crlso.experiments.run_folder": ["RunFolderError", "RunLogError", "RunFolderBusy", "read_queries", "check_logged", "lock_run_folder", "read_json_file", "remove_stale_temporaries", "LOG_KEYS"],
    "crlso.experiments.train": ["Labels", "TrainJob", "benchmark_labels", "label_errors", "run_training"],
    "crlso.experiments.finalize": ["run_finalize", "search_folder"],
    "crlso.experiments.oracle_bench": ["run_oracle_bench"],
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
