"""``crlso rank-bench``: benchmark B2, the semi-supervised latent model beside a random forest.

Prints Kendall tau, Spearman rho and precision@k (mean ± sd over seeds) for each ``n`` and writes
``rank_bench.json`` (config, every run, summary) and ``table.md`` into ``--out``.
scikit-learn (for the random forest) is needed by this command only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from crlso.cli.common import add_data_dir, data_store, int_list


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("rank-bench", help="benchmark B2: ranking quality of the latent model vs a random forest")
    parser.add_argument("--space", default="nb201", choices=("nb201", "nb101"),
                        help="nb201 (every cell; protocol B2) or nb101 (NASLib's labelled cells, random splits; default nb201)")
    parser.add_argument("--dataset", default="cifar10", help="NB201 dataset (default cifar10)")
    parser.add_argument("--metric", default="valid_acc", help="metric to rank by (default valid_acc)")
    parser.add_argument("--n", type=int_list, default=None, help="labelled-set sizes (default 50,100,200,500; nb101: 50,100,200)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per n: FIRST..FIRST+S-1 (default 5)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="first seed (default 0, the benchmark seeds; choose settings on others, e.g. 100)")
    parser.add_argument("--k", type=int, default=None, help="k of precision@k (default 50; nb101: 20)")
    parser.add_argument("--head", default="predictor", help="latent model score: predictor or icnn (default predictor)")
    parser.add_argument("--ensemble", type=int, default=None, help="GNN predictors averaged (default: RankBenchConfig)")
    parser.add_argument("--epochs", type=int, default=None, help="predictor epochs (default: RankBenchConfig)")
    parser.add_argument("--rank-weight", type=float, default=None, help="weight of the pairwise ranking loss (default: RankBenchConfig)")
    parser.add_argument("--no-warm-start", action="store_true", help="do not initialise the predictors from the unlabelled VAE encoder")
    parser.add_argument("--no-prune", action="store_true", help="show the predictors the cells as written, dead edges included")
    parser.add_argument("--forest-weight", type=float, default=None,
                        help="rank-blend weight of the cell-feature forest in the latent model, 0 = GNN only (default: RankBenchConfig)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--cache-dir", default=None, help="cache of pre-trained models (default $CRLSO_CACHE_DIR or ~/.cache/crlso)")
    parser.add_argument("--out", required=True, help="output folder (rank_bench.json, table.md)")
    add_data_dir(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import time

    import torch

    from crlso.atomic import write_json_atomic, write_text_atomic
    from crlso.rank_benchmark import RankBenchConfig, format_rank_table, run_rank_benchmark
    from nasspace.benchmarks.nb201 import NB201Table

    if args.seeds < 1 or args.threads < 1 or args.first_seed < 0:
        raise ValueError(f"--seeds and --threads must be >= 1 and --first-seed >= 0, "
                         f"got {args.seeds}, {args.threads} and {args.first_seed}")
    torch.set_num_threads(args.threads)
    if args.space == "nb101":
        return _run_nb101(args)
    args.n, args.k = args.n or (50, 100, 200, 500), args.k or 50
    overrides = {"ensemble": args.ensemble, "epochs": args.epochs, "rank_weight": args.rank_weight,
                 "forest_weight": args.forest_weight}
    config = RankBenchConfig(
        dataset=args.dataset, metric=args.metric, ns=args.n, seeds=tuple(range(args.first_seed, args.first_seed + args.seeds)),
        k=args.k, head=args.head, warm_start=not args.no_warm_start, prune=not args.no_prune,
        cache_dir=str(Path(args.cache_dir).resolve()) if args.cache_dir else "",
        **{key: value for key, value in overrides.items() if value is not None},
    )
    out = Path(args.out)
    write_json_atomic(out / "config.json", dataclasses.asdict(config))
    started = time.perf_counter()
    result = run_rank_benchmark(config, table=NB201Table(args.dataset, store=data_store(args)))
    elapsed = time.perf_counter() - started
    table = format_rank_table(result, config.k)
    write_text_atomic(out / "table.md", table)
    summary = {str(n): row for n, row in result["summary"].items()}
    write_json_atomic(out / "rank_bench.json", {"config": dataclasses.asdict(config), "runs": result["runs"],
                                               "summary": summary, "seconds": elapsed})
    print(table, end="")
    print(f"latent model: head={config.head}, ensemble={config.ensemble}, warm_start={config.warm_start}, "
          f"prune={config.prune}, forest_weight={config.forest_weight}; seeds {config.seeds[0]}..{config.seeds[-1]}; "
          f"random forest: {config.rf_trees} trees on the op one-hot; {elapsed:.0f} s")
    print(f"results: {out.resolve()} (config.json, rank_bench.json, table.md)")
    return 0


def _run_nb101(args: argparse.Namespace) -> int:
    """The NB101 benchmark (`crlso.nb101.rank_bench`): same options, latent model on NB101 sizes."""
    import dataclasses
    import time

    from crlso.atomic import write_json_atomic, write_text_atomic
    from crlso.nb101.rank_bench import format_nb101_table, run_nb101_rank_benchmark
    from crlso.rank_benchmark import RankBenchConfig
    from crlso.training import default_model_config
    from nasspace.benchmarks.subsets import SubsetTable

    overrides = {"ensemble": args.ensemble, "epochs": args.epochs, "rank_weight": args.rank_weight,
                 "forest_weight": args.forest_weight}
    config = RankBenchConfig(
        dataset=args.dataset, metric=args.metric, ns=args.n or (50, 100, 200),
        seeds=tuple(range(args.first_seed, args.first_seed + args.seeds)), k=args.k or 20, head=args.head,
        warm_start=not args.no_warm_start, cache_dir=str(Path(args.cache_dir).resolve()) if args.cache_dir else "",
        model=default_model_config("nb101"), **{key: value for key, value in overrides.items() if value is not None},
    )
    table = SubsetTable("nb101", dataset=args.dataset, store=data_store(args))
    out = Path(args.out)
    write_json_atomic(out / "config.json", dataclasses.asdict(config))
    started = time.perf_counter()
    result = run_nb101_rank_benchmark(config, table=table)
    elapsed = time.perf_counter() - started
    text = format_nb101_table(result, config.k)
    write_text_atomic(out / "table.md", text)
    write_json_atomic(out / "rank_bench.json", {"config": dataclasses.asdict(config), "runs": result["runs"],
                                               "summary": {str(n): row for n, row in result["summary"].items()},
                                               "cells": result["cells"], "seconds": elapsed})
    print(text, end="")
    print(f"nb101: {result['cells']} labelled cells, train n / test the rest, seeds {config.seeds[0]}..{config.seeds[-1]}; "
          f"latent model: ensemble={config.ensemble}, forest_weight={config.forest_weight}; RF: {config.rf_trees} trees on "
          f"the one-hot slot encoding; params: NASLib's parameter count; {elapsed:.0f} s")
    print(f"results: {out.resolve()} (config.json, rank_bench.json, table.md)")
    return 0
