"""``crlso rank-bench``: the ranking model (`crlso.ranking.model`) beside a one-hot forest and a params ranking.

``--space nb201`` is B2; ``--space darts`` the same protocol on NB301's 500 labelled cells. With
``--proxy-features FILE,...`` (proxy cache files of ``darts-backend zc``) the pool is the cells they
score and the model is measured with and without them in the same run. Each finished (n, seed) run is appended to ``runs.jsonl`` at once. Prints Kendall tau, Spearman
rho and precision@k (mean ± sd over seeds) for each ``n`` and writes
``rank_bench.json`` (config, every run, summary) and ``table.md`` into ``--out``.
scikit-learn (for the random forest) is needed by this command only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from crlso.cli.common import add_data_dir, data_store, int_list
from crlso.errors import ConfigError, MissingFileError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("rank-bench", help="ranking benchmark (B2 on nb201; NB301 cells on darts) vs a forest and params")
    parser.add_argument("--space", default="nb201",
                        help="nb201 (every cell: B2), darts (NB301's 500 cells), nb101 (NASLib's 301 cells) or any space "
                             "with a table (all its rows; crlso spaces); default nb201")
    parser.add_argument("--dataset", default="cifar10", help="dataset or task of the table (default cifar10)")
    parser.add_argument("--metric", default=None,
                        help="metric to rank by (default valid_acc; on a registered table, its search metric)")
    parser.add_argument("--n", type=int_list, default=None,
                        help="labelled-set sizes (default 50,100,200,500 on nb201; 50,100,200,400 on darts; 50,100,200 on nb101)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per n: FIRST..FIRST+S-1 (default 5)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="first seed (default 0, the benchmark seeds; choose settings on others, e.g. 100)")
    parser.add_argument("--k", type=int, default=50, help="k of precision@k (default 50)")
    parser.add_argument("--ensemble", type=int, default=None, help="GNN predictors averaged (default: RankBenchConfig)")
    parser.add_argument("--epochs", type=int, default=None, help="predictor epochs (default: RankBenchConfig)")
    parser.add_argument("--rank-weight", type=float, default=None, help="weight of the pairwise ranking loss (default: RankBenchConfig)")
    parser.add_argument("--no-warm-start", action="store_true", help="do not initialise the predictors from the unlabelled VAE encoder")
    parser.add_argument("--no-prune", action="store_true", help="show the predictors the cells as written (nb201: dead edges included)")
    parser.add_argument("--proxy-features", type=lambda text: tuple(p for p in text.split(",") if p), default=(),
                        help="comma-separated proxy cache files (one proxy each) to add as forest inputs; measured with and without")
    parser.add_argument("--forest-weight", type=float, default=None,
                        help="rank-blend weight of the cell-feature forest in the latent model, 0 = GNN only (default: RankBenchConfig)")
    parser.add_argument("--device", default=None, metavar="DEVICE",
                        help="auto (default: CUDA when present), cpu, cuda or cuda:N for the models")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--cache-dir", default=None, help="cache of pre-trained models (default $CRLSO_CACHE_DIR or ~/.cache/crlso)")
    parser.add_argument("--out", required=True, help="output folder (rank_bench.json, table.md)")
    add_data_dir(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import time

    import torch

    from nasspace.atomic import write_json_atomic, write_text_atomic
    from crlso.ranking.benchmark import RankBenchConfig, format_rank_table, run_rank_benchmark
    from crlso.ranking.model import RankModelConfig

    if args.seeds < 1 or args.threads < 1 or args.first_seed < 0:
        raise ConfigError(f"--seeds and --threads must be >= 1 and --first-seed >= 0, "
                          f"got {args.seeds}, {args.threads} and {args.first_seed}")
    torch.set_num_threads(args.threads)
    overrides = {"ensemble": args.ensemble, "epochs": args.epochs, "rank_weight": args.rank_weight,
                 "forest_weight": args.forest_weight}
    for path in args.proxy_features:
        if not Path(path).is_file():
            raise MissingFileError(f"no proxy file at {path}")
    ranker = RankModelConfig(warm_start=not args.no_warm_start, graph_view=not args.no_prune,
                             **{key: value for key, value in overrides.items() if value is not None})
    if args.metric is None:
        args.metric = _default_metric(args.space, args.dataset)
    config = RankBenchConfig(
        space=args.space, dataset=args.dataset, metric=args.metric,
        ns=args.n or {"darts": (50, 100, 200, 400), "nb101": (50, 100, 200)}.get(args.space, (50, 100, 200, 500)),
        seeds=tuple(range(args.first_seed, args.first_seed + args.seeds)), k=args.k, ranker=ranker,
        proxy_files=tuple(str(Path(p).resolve()) for p in args.proxy_features),
        cache_dir=str(Path(args.cache_dir).resolve()) if args.cache_dir else "",
    )
    out = Path(args.out)
    write_json_atomic(out / "config.json", dataclasses.asdict(config))
    started = time.perf_counter()
    import json

    finished: list[str] = []

    def save_run(run: dict) -> None:
        finished.append(json.dumps(run))
        write_text_atomic(out / "runs.jsonl", "\n".join(finished) + "\n")

    result = run_rank_benchmark(config, store=data_store(args), on_run=save_run)
    elapsed = time.perf_counter() - started
    table = format_rank_table(result, config.k)
    write_text_atomic(out / "table.md", table)
    summary = {str(n): row for n, row in result["summary"].items()}
    write_json_atomic(out / "rank_bench.json", {"config": dataclasses.asdict(config), "runs": result["runs"],
                                               "summary": summary, "pool": result["pool"], "seconds": elapsed})
    print(table, end="")
    print(f"{config.space}: pool of {result['pool']} cells; ranking model: ensemble={ranker.ensemble}, warm_start={ranker.warm_start}, "
          f"graph_view={ranker.graph_view}, forest_weight={ranker.forest_weight}; seeds {config.seeds[0]}..{config.seeds[-1]}; "
          f"random forest: {config.rf_trees} trees on the one-hot; params: no label; {elapsed:.0f} s")
    print(f"results: {out.resolve()} (config.json, rank_bench.json, table.md)")
    return 0



def _default_metric(space: str, dataset: str) -> str:
    """``valid_acc`` for the built-in pools, else the search metric of the space's table."""
    from crlso.ranking.benchmark import BENCH_SPACES
    from nasspace.benchmarks.registry import get_table_spec

    return "valid_acc" if space in BENCH_SPACES else get_table_spec(space, dataset).search_metric
