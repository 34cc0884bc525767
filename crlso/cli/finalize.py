"""``crlso finalize RUN_DIR --top K``: train a search's K best cells with a longer budget; test accuracy, params, FLOPs."""

from __future__ import annotations

import argparse

from crlso.cli.oracle_options import add_proxy_options, proxy_overrides
from crlso.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("finalize", help="train the best cells of a search properly and report their test accuracy")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a search run folder (or a crlso hybrid folder)")
    parser.add_argument("--top", type=int, default=1, help="best cells by the search metric to train (default 1)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local", help="local processes (default) or Ray tasks")
    parser.add_argument("--workers", type=int, default=1, help="local worker processes, or CPUs of a local Ray instance (default 1)")
    parser.add_argument("--address", default=None, help="with --executor ray: join this cluster")
    add_proxy_options(parser, final=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from crlso.cli.oracle_options import evaluation_executor
    from crlso.experiments.finalize import run_finalize, search_folder
    from crlso.oracles import final_preset
    from crlso.experiments.run_folder import read_json_file

    folder = search_folder(args.run_dir)
    space = read_json_file(folder / "config.json").get("space", "nb201")
    overrides = proxy_overrides(args)
    if "data" not in overrides:
        raise ConfigError("finalize needs --proxy-data PATH (the images to train and test on, e.g. data/cifar10-jpg.tar)")
    budget = final_preset(args.preset, space, **overrides)
    result = run_finalize(args.run_dir, budget, top=args.top, executor=evaluation_executor(args))
    for cell in result["cells"]:
        print(f"#{cell['rank']} {cell['genotype']}: search {cell['search_value']:.2f} -> test {cell['test_acc']:.2f} %, "
              f"{cell['params']:.3f} M params, {cell['flops']:.1f} M FLOPs, {cell['train_seconds']:.0f} s")
    print(f"results: {(folder / 'finalize.json').resolve()}")
    return 0
