"""``crlso oracle-bench``: train N random NB201 cells at a proxy budget; Kendall/Spearman against the table."""

from __future__ import annotations

import argparse
from pathlib import Path

from crlso.cli.common import add_data_dir
from crlso.cli.oracle_options import add_proxy_options, proxy_overrides
from crlso.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("oracle-bench", help="how well a training proxy ranks NB201 cells (tau/rho vs the table)")
    parser.add_argument("--oracle", choices=("train",), default="train", help="the oracle to validate (train)")
    parser.add_argument("--space", choices=("nb201",), default="nb201", help="nb201 (the space with a table)")
    parser.add_argument("--cells", type=int, required=True, help="random cells to train")
    parser.add_argument("--seed", type=int, default=0, help="seed of the cell sample (default 0)")
    parser.add_argument("--dataset", default="cifar10", help="NB201 table to rank against (default cifar10)")
    parser.add_argument("--metric", default="valid_acc", help="table metric (default valid_acc)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local", help="local processes (default) or Ray tasks")
    parser.add_argument("--workers", type=int, default=1, help="local worker processes, or CPUs of a local Ray instance (default 1)")
    parser.add_argument("--address", default=None, help="with --executor ray: join this cluster")
    parser.add_argument("--out", required=True, help="folder for evaluations/ and oracle_bench.json (a rerun resumes)")
    add_proxy_options(parser)
    add_data_dir(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from crlso.cli.oracle_options import evaluation_executor
    from crlso.experiments.oracle_bench import run_oracle_bench
    from crlso.oracles import proxy_preset

    overrides = proxy_overrides(args)
    if "data" not in overrides:
        raise ConfigError("oracle-bench needs --proxy-data PATH (e.g. data/cifar10-jpg.tar)")
    proxy = proxy_preset(args.preset, args.space, **overrides)
    result = run_oracle_bench(proxy, args.out, cells=args.cells, seed=args.seed, dataset=args.dataset, metric=args.metric,
                              data_dir=args.data_dir, executor=evaluation_executor(args))
    size = {k: result["proxy"][k] for k in ("epochs", "images", "channels", "cells", "batch_size", "valid_fraction")}
    print(f"{args.cells} NB201 cells, proxy {size}: Kendall tau {result['kendall_tau']:.3f}, "
          f"Spearman rho {result['spearman_rho']:.3f} vs table {args.metric}")
    print(f"wall {result['wall_seconds']:.0f} s ({result['train_seconds']:.0f} s of training) on "
          f"{result['executor']['name']} with {result['executor']['workers']} workers")
    print(f"results: {(Path(args.out) / 'oracle_bench.json').resolve()}")
    return 0
