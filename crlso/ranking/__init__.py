"""Ranking architectures, one module per concept:

- `crlso.ranking.metrics`: rank metrics (Kendall tau, Spearman rho, precision@k; scipy-backed);
- `crlso.ranking.genotype_lists`: reading genotype lists (``crlso rank``) and writing rankings;
- `crlso.ranking.scoring`: scoring genotypes with a trained latent model;
- `crlso.ranking.model`: the ranking model (a GNN ensemble plus a forest); `crlso.ranking.spaces`: what it
  needs of each space; `crlso.ranking.proxy_features`: zero-cost proxy scores as its features;
- `crlso.ranking.benchmark`: the ranking benchmark (``crlso rank-bench``).

Names are imported from their module on first use.
"""

from __future__ import annotations

from crlso._lazy import lazy_exports

_EXPORTS = {
    "crlso.ranking.metrics": ["kendall_tau", "spearman_rho", "precision_at_k", "average_ranks"],
    "crlso.ranking.genotype_lists": ["BadLine", "InputFormatError", "INPUT_FORMATS", "read_genotypes", "write_ranking"],
    "crlso.ranking.scoring": ["SCORERS", "score_genotypes"],
    "crlso.ranking.model": ["RANK_MODEL_VERSION", "DIRECTIONS", "RankModelConfig", "TreeEnsemble", "Reference", "RankPrediction", "RankModel", "build_member", "fit_forest"],
    "crlso.ranking.spaces": ["RankSpace", "register_rank_space", "rank_space", "rank_space_names", "darts_cell_features", "darts_one_hot"],
    "crlso.ranking.benchmark": ["RankBenchConfig", "BENCH_SPACES", "MODELS", "Pool", "labelled_pool", "nb201_params", "one_hot_ops", "random_forest_scores", "blend_ranks", "run_rank_benchmark", "format_rank_table"],
    "crlso.ranking.proxy_features": ["ProxyFeatures", "MissingProxy", "read_proxy_files", "MISSING"],
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
