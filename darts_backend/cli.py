"""``darts-backend``: run a supernet search or time a supernet step.

    darts-backend search --method single-darts --space nb201 --data PATH --out DIR [--seed S]
        [--channels C --cells N --epochs E --batch-size B --limit-train N] [--resume]
    darts-backend search --method fx-darts|dnad --space darts --data PATH --out DIR [...]
    darts-backend train --genotype FILE --data PATH --out DIR [--index I ...]
    darts-backend bench [--method M --channels C --cells N --batch-size B --steps S --threads T]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import fields, replace

from darts_backend import cli_darts
from darts_backend.bench import BenchConfig, benchmark_throughput
from darts_backend.run import SPACES, SearchRunConfig, run_search
from darts_backend.searchers import list_searchers

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (flags left unset fall back to the config dataclass defaults)."""
    parser = argparse.ArgumentParser(prog="darts-backend", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    defaults = SearchRunConfig()

    search = sub.add_parser("search", help="run a supernet search and write DIR/genotype.json, DIR/alphas.json")
    search.add_argument("--method", required=True, choices=list_searchers())
    search.add_argument("--space", default=defaults.space, choices=sorted(set(SPACES) | set(cli_darts.SPACES)))
    search.add_argument("--data", required=True,
                        help="CIFAR-10 python archive (tar.gz or folder), image folder/tar (train/<class>/*.jpg), or 'synthetic'")
    search.add_argument("--out", required=True, help="run folder")
    search.add_argument("--seed", type=int, help=f"default {defaults.seed}")
    search.add_argument("--channels", type=int, help=f"supernet C (default {defaults.channels})")
    search.add_argument("--cells", type=int, help=f"cells per stage N (default {defaults.cells})")
    search.add_argument("--epochs", type=int, help=f"default {defaults.epochs}")
    search.add_argument("--batch-size", type=int, help=f"default {defaults.batch_size}")
    search.add_argument("--limit-train", type=int, help="use a random subset of N training images")
    search.add_argument("--valid-fraction", type=float,
                        help=f"held-out share for bi-level methods (default {defaults.valid_fraction})")
    search.add_argument("--device", help="auto (default), cpu, cuda")
    search.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    search.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    search.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    cli_darts.add_search_flags(search)
    cli_darts.add_train_parser(sub)

    bench = sub.add_parser("bench", help="time full search steps on random 32x32 batches")
    bdefaults = BenchConfig()
    bench.add_argument("--method", choices=list_searchers(), help=f"default {bdefaults.method}")
    bench.add_argument("--channels", type=int, help=f"default {bdefaults.channels}")
    bench.add_argument("--cells", type=int, help=f"default {bdefaults.cells}")
    bench.add_argument("--batch-size", type=int, help=f"default {bdefaults.batch_size}")
    bench.add_argument("--steps", type=int, help=f"timed steps (default {bdefaults.steps})")
    bench.add_argument("--warmup", type=int, help=f"untimed steps (default {bdefaults.warmup})")
    bench.add_argument("--device", help="auto (default), cpu, cuda")
    bench.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    return parser


def _overlay(config, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """`config` with every dataclass field that was given on the command line replaced."""
    given = {f.name: getattr(args, f.name) for f in fields(config)
             if getattr(args, f.name, None) is not None}
    return replace(config, **given)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return cli_darts.handle_train(args)
        if args.command == "search" and args.method in cli_darts.METHODS:
            if args.space not in cli_darts.SPACES:
                raise ValueError(f"method {args.method!r} searches the darts space only (--space darts)")
            return cli_darts.handle_search(args)
        if args.command == "search":
            config = _overlay(SearchRunConfig(), args)
            result = run_search(config, args.out, resume=args.resume, progress=not args.no_progress)
            print(f"genotype: {result.genotype}")
            if config.space == "nb201":
                acc = "n/a (NB201 table not present)" if result.nb201_test_acc is None else f"{result.nb201_test_acc:.2f}"
                print(f"NB201 cifar10 test_acc: {acc}")
            print(f"results in {result.out_dir}: genotype.json, alphas.json, metrics.jsonl, result.json, checkpoint.pt")
            return 0
        stats = benchmark_throughput(_overlay(BenchConfig(), args))
        print(f"{stats['images_per_s']:.1f} img/s ({stats['seconds_per_step']:.3f} s/step wall, "
              f"{stats['cpu_seconds_per_step']:.3f} s/step CPU, {int(stats['threads'])} threads)")
        return 0
    except ValueError as exc:
        print(f"darts-backend: error: {exc}", file=sys.stderr)
        return 2
