"""crlso: latent-space NAS (graph VAE + input-convex predictor), searches, ranking and experiments.

One concept per package:

- `crlso.models`: the latent model (encoder, decoders, VAE, ICNN, predictor, featurizers, configs, training,
  checkpoints);
- `crlso.search`: the ask/tell contract and loop (`crlso.search.base`), one module per searcher;
- `crlso.oracles`: where a search's values come from, by name (a registry: table, supernet, training, a user's
  function; zero-cost scores);
- `crlso.ranking`: rank metrics, scoring with a trained model, the ranking model and its benchmark;
- `crlso.experiments`: run folders and resume, multi-seed comparisons;
- `crlso.execution`: where runs and evaluations execute (local processes, Ray);
- `crlso.report`: the HTML report and its plots;
- `crlso.cli`: the ``crlso`` command.

The names below are the public API; each is imported from its module on first use (PEP 562), so
``import crlso`` loads no torch.
"""

from __future__ import annotations

from crlso._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "crlso.errors": ["CrlsoError", "ConfigError", "InputError", "CheckpointError", "RunFolderError", "OracleError",
                     "TaskFailed", "SearchError"],
    "crlso.search.base": ["Searcher", "SearchDiverged", "create_searcher", "list_searchers", "register_searcher", "run_search",
                          "searcher_config"],
    "crlso.models.config": ["ModelConfig", "PretrainConfig", "SemiSupervisedConfig", "default_model_config", "build_vae",
                            "build_icnn", "build_predictor"],
    "crlso.models.training": ["pretrain_vae", "cached_pretrained_vae"],
    "crlso.models.semi_supervised": ["train_semi_supervised"],
    "crlso.models.vae": ["GraphVAE"],
    "crlso.models.icnn": ["ICNN"],
    "crlso.models.predictor": ["GNNPredictor"],
    "crlso.models.checkpoints": ["save_checkpoint", "load_checkpoint", "load_models"],
    "crlso.oracles.registry": ["OracleContext", "PickedOracle", "register_oracle", "list_oracles", "pick_oracle"],
    "crlso.oracles.function": ["register_function_oracle"],
    "crlso.oracles.table": ["load_table"],
    "crlso.oracles.training": ["TrainProxy", "TrainingOracle", "proxy_preset", "final_preset", "train_cells"],
    "crlso.oracles.supernet": ["supernet_oracle"],
    "crlso.ranking.metrics": ["kendall_tau", "spearman_rho", "precision_at_k"],
    "crlso.ranking.genotype_lists": ["read_genotypes", "write_ranking"],
    "crlso.ranking.scoring": ["score_genotypes"],
    "crlso.ranking.model": ["RankModel", "RankModelConfig"],
    "crlso.ranking.benchmark": ["RankBenchConfig", "run_rank_benchmark"],
    "crlso.experiments.run": ["RunConfig", "run_experiment"],
    "crlso.experiments.compare": ["run_comparison", "aggregate", "format_table"],
    "crlso.execution.executors": ["Executor", "LocalExecutor", "RayExecutor", "create_executor"],
    "crlso.experiments.finalize": ["run_finalize"],
    "crlso.report.build": ["build_report"],
    "crlso.report.common": ["ReportOptions"],
})
