"""``darts-backend``: run a supernet search, train a genotype's network, or time a supernet step.

    darts-backend search --method single-darts|darts --space nb201|darts --data PATH --out DIR [--seed S]
        [--preset paper|cpu] [--channels C --cells N --epochs E --batch-size B --limit-train N] [--resume]
    darts-backend search --method dnad|fx-darts --space darts --data PATH --out DIR
        [--nodes K --ops A,B --warmup-epochs W --prune-every P --milestone F --option KEY=VALUE ...
         --teacher FILE --teacher-checkpoint PT ...]
    darts-backend train --genotype FILE --data PATH --out DIR [--index I ...]
    darts-backend bench [--method M --channels C --cells N --batch-size B --steps S --threads T]

Single-genotype searches run through `darts_backend.runs.search`, set-emitting ones (``dnad``,
``fx-darts``) through `darts_backend.runs.set_search`, training through `darts_backend.runs.train`.
Flags left unset fall back to the ``--preset`` (`darts_backend.runs.presets`: ``paper`` is each
method's published setting, ``cpu`` a CPU-sized run of it), else to the run config's defaults.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

from darts_backend.runs.bench import BenchConfig, benchmark_throughput
from darts_backend.runs.presets import PRESETS, preset_values
from darts_backend.runs.search import SPACES, SearchRunConfig, run_search
from darts_backend.runs.set_search import METHODS as SET_METHODS
from darts_backend.runs.set_search import SPACES as SET_SPACES
from darts_backend.runs.set_search import DartsSearchConfig, run_darts_search
from darts_backend.runs.train import TrainConfig, run_train
from darts_backend.searchers import list_searchers
from nasspace.errors import NasSpaceError, describe_os_error

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (every optional flag defaults to None: unset means the config's default)."""
    parser = argparse.ArgumentParser(prog="darts-backend", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_search_parser(sub)
    _add_train_parser(sub)
    _add_bench_parser(sub)
    return parser


def _add_search_parser(sub: Any) -> None:
    defaults = SearchRunConfig()
    search = sub.add_parser("search", help="run a supernet search and write DIR/genotype.json (or genotypes.json)")
    search.add_argument("--method", required=True, choices=list_searchers())
    search.add_argument("--space", default=defaults.space, choices=sorted(set(SPACES) | set(SET_SPACES)))
    search.add_argument("--data", required=True,
                        help="CIFAR-10 python archive (tar.gz or folder), image folder/tar (train/<class>/*.jpg), or 'synthetic'")
    search.add_argument("--out", required=True, help="run folder")
    search.add_argument("--preset", choices=PRESETS,
                        help="paper: the method's published setting; cpu: a CPU-sized run of it (flags override)")
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
    # set-emitting searches (dnad, fx-darts) on the darts space
    search.add_argument("--nodes", type=int, help="intermediate nodes per cell (darts space; default 4)")
    search.add_argument("--ops", help="comma-separated candidate ops (darts space; default: the method's set)")
    search.add_argument("--warmup-epochs", type=int, help="epochs before shrinking starts")
    search.add_argument("--prune-every", type=int, help="steps between deletion checks")
    search.add_argument("--milestone", type=float, help="snapshot at every drop of this fraction of params (0: off)")
    search.add_argument("--option", dest="options", action="append", metavar="KEY=VALUE",
                        help="override a field of the method's config (repeatable), e.g. gamma_init=0.1")
    search.add_argument("--teacher", help="teacher genotype JSON (needs --teacher-checkpoint; default: the checkpoint's)")
    search.add_argument("--teacher-checkpoint", help="teacher weights, a 'train' checkpoint.pt (enables distillation)")
    search.add_argument("--teacher-index", type=int, help="genotype index in --teacher (a list)")
    search.add_argument("--teacher-channels", type=int, help="teacher C (default 16)")
    search.add_argument("--teacher-cells", type=int, help="teacher cells for darts genotypes (default 8)")


def _add_train_parser(sub: Any) -> None:
    train = sub.add_parser("train", help="train one discrete network from a genotype file (evaluation step)")
    train.add_argument("--genotype", required=True, help="genotype JSON, or genotypes.json (use --index)")
    train.add_argument("--index", type=int)
    train.add_argument("--data", required=True)
    train.add_argument("--out", required=True)
    for flag in ("--seed", "--channels", "--cells", "--epochs", "--batch-size", "--limit-train", "--limit-test", "--threads"):
        train.add_argument(flag, type=int)
    for flag in ("--lr", "--lr-min", "--weight-decay"):
        train.add_argument(flag, type=float)
    train.add_argument("--device")
    train.add_argument("--resume", action="store_true")
    train.add_argument("--no-progress", action="store_true")


def _add_bench_parser(sub: Any) -> None:
    bench = sub.add_parser("bench", help="time full search steps on random 32x32 batches")
    defaults = BenchConfig()
    bench.add_argument("--method", choices=list_searchers(), help=f"default {defaults.method}")
    bench.add_argument("--channels", type=int, help=f"default {defaults.channels}")
    bench.add_argument("--cells", type=int, help=f"default {defaults.cells}")
    bench.add_argument("--batch-size", type=int, help=f"default {defaults.batch_size}")
    bench.add_argument("--steps", type=int, help=f"timed steps (default {defaults.steps})")
    bench.add_argument("--warmup", type=int, help=f"untimed steps (default {defaults.warmup})")
    bench.add_argument("--device", help="auto (default), cpu, cuda")
    bench.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")


def _overlay(config: Any, args: argparse.Namespace) -> Any:
    """`config` with every dataclass field that was given on the command line replaced."""
    given = {f.name: getattr(args, f.name) for f in fields(config) if getattr(args, f.name, None) is not None}
    if "options" in given:
        given["options"] = tuple(given["options"])
    return replace(config, **given)


def _search_config(cls: type, args: argparse.Namespace) -> Any:
    """The run config: the preset's values (if any), then every flag given; built once, so validated once.

    ``--option`` flags come after the preset's options (a later KEY wins).
    """
    values = preset_values(args.preset, args.method, args.space) if args.preset else {}
    names = {f.name for f in fields(cls)}
    given = {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}
    if "options" in given:
        given["options"] = tuple(values.get("options", ())) + tuple(given["options"])
    return cls(**{**values, **given, "preset": args.preset})


def _search(args: argparse.Namespace) -> int:
    config = _search_config(SearchRunConfig, args)
    result = run_search(config, args.out, resume=args.resume, progress=not args.no_progress)
    print(f"genotype: {result.genotype}")
    if config.space == "nb201":
        acc = "n/a (NB201 table not present)" if result.nb201_test_acc is None else f"{result.nb201_test_acc:.2f}"
        print(f"NB201 cifar10 test_acc: {acc}")
    print(f"results in {result.out_dir}: genotype.json, alphas.json, metrics.jsonl, result.json, checkpoint.pt")
    return 0


def _set_search(args: argparse.Namespace) -> int:
    if args.space not in SET_SPACES:
        raise ValueError(f"method {args.method!r} searches the darts space only (--space darts)")
    config = _search_config(DartsSearchConfig, args)
    entries = run_darts_search(config, args.out, resume=args.resume, progress=not args.no_progress)
    for i, e in enumerate(entries):
        print(f"[{i}] params {e['params']:.4f}M  flops {e['flops']:.2f}M  search_acc {100 * e['search_acc']:.2f}%  ({e['reason']})")
    print(f"results in {args.out}: genotypes.json ({len(entries)} genotypes), pareto.png, metrics.jsonl, checkpoint.pt")
    return 0


def _train(args: argparse.Namespace) -> int:
    result = run_train(_overlay(TrainConfig(), args), args.out, resume=args.resume, progress=not args.no_progress)
    print(f"params {result['params']:.4f}M  flops {result['flops']:.2f}M  test_acc {100 * result['test_acc']:.2f}%")
    print(f"results in {args.out}: result.json, metrics.jsonl, checkpoint.pt")
    return 0


def _bench(args: argparse.Namespace) -> int:
    stats = benchmark_throughput(_overlay(BenchConfig(), args))
    print(f"{stats['images_per_s']:.1f} img/s ({stats['seconds_per_step']:.3f} s/step wall, "
          f"{stats['cpu_seconds_per_step']:.3f} s/step CPU, {int(stats['threads'])} threads)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 on a bad option or input, with a one-line error).

    Operating-system errors (read-only folder, full disk, ``--out`` naming a file) are one line too,
    naming the path and the cause.
    """
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "search":
            return _set_search(args) if args.method in SET_METHODS else _search(args)
        return _bench(args)
    except (ValueError, NasSpaceError) as exc:
        print(f"darts-backend: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"darts-backend: error: {describe_os_error(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
