"""DARTS-space commands: set-emitting searches (``dnad``, ``fx-darts``) and discrete-network training.

    python -m darts_backend.cli_darts search --method dnad|fx-darts --space darts --data PATH --out DIR
        [--seed S --channels C --cells N --nodes K --epochs E --batch-size B --limit-train N --ops A,B
         --warmup-epochs W --prune-every P --milestone F --option KEY=VALUE ... --teacher FILE
         --teacher-checkpoint PT --device D --threads T --resume --no-progress]
    python -m darts_backend.cli_darts train --genotype FILE [--index I] --data PATH --out DIR [...]

The same handlers back ``darts-backend search --space darts`` and ``darts-backend train`` once the main
CLI adds `add_search_flags` / `add_train_parser` to its parser and routes to `handle_search` /
`handle_train`. Run folders: see `darts_backend.run_darts` and `darts_backend.train_genotype`.
"""

from __future__ import annotations

import argparse
from dataclasses import fields, replace
from typing import Any

from darts_backend.run_darts import METHODS, SPACES, DartsSearchConfig, run_darts_search
from darts_backend.train_genotype import TrainConfig, run_train

__all__ = ["METHODS", "SPACES", "add_search_flags", "add_train_parser", "handle_search", "handle_train"]


# -- argparse --------------------------------------------------------------------------------------

def add_search_flags(search: argparse.ArgumentParser) -> None:
    """Flags of DARTS-space searches beyond the shared ``search`` flags (all default to None)."""
    search.add_argument("--nodes", type=int, help="intermediate nodes per cell (darts space; default 4)")
    search.add_argument("--ops", help="comma-separated candidate ops (darts space; default: the method's set)")
    search.add_argument("--warmup-epochs", type=int, help="epochs before shrinking starts")
    search.add_argument("--prune-every", type=int, help="steps between deletion checks")
    search.add_argument("--milestone", type=float, help="snapshot at every drop of this fraction of params (0: off)")
    search.add_argument("--option", dest="options", action="append", metavar="KEY=VALUE",
                        help="override a field of the method's config (repeatable), e.g. gamma_init=0.1")
    search.add_argument("--teacher", help="teacher genotype JSON (enables distillation)")
    search.add_argument("--teacher-checkpoint", help="teacher weights: a 'train' checkpoint.pt")
    search.add_argument("--teacher-index", type=int, help="genotype index in --teacher (a list)")
    search.add_argument("--teacher-channels", type=int, help="teacher C (default 16)")
    search.add_argument("--teacher-cells", type=int, help="teacher cells for darts genotypes (default 8)")


def add_train_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``train`` subcommand to a subparsers object."""
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
    return train


def _overlay(config: Any, args: argparse.Namespace) -> Any:
    given = {f.name: getattr(args, f.name) for f in fields(config) if getattr(args, f.name, None) is not None}
    if "options" in given:
        given["options"] = tuple(given["options"])
    return replace(config, **given)


def handle_search(args: argparse.Namespace) -> int:
    """Run ``search --space darts`` from parsed arguments; prints where the results are."""
    config = _overlay(DartsSearchConfig(method=args.method), args)
    entries = run_darts_search(config, args.out, resume=args.resume, progress=not args.no_progress)
    for i, e in enumerate(entries):
        print(f"[{i}] params {e['params']:.4f}M  flops {e['flops']:.2f}M  search_acc {100 * e['search_acc']:.2f}%  ({e['reason']})")
    print(f"results in {args.out}: genotypes.json ({len(entries)} genotypes), pareto.png, metrics.jsonl, checkpoint.pt")
    return 0


def handle_train(args: argparse.Namespace) -> int:
    """Run ``train`` from parsed arguments; prints where the results are."""
    result = run_train(_overlay(TrainConfig(), args), args.out, resume=args.resume, progress=not args.no_progress)
    print(f"params {result['params']:.4f}M  flops {result['flops']:.2f}M  test_acc {100 * result['test_acc']:.2f}%")
    print(f"results in {args.out}: result.json, metrics.jsonl, checkpoint.pt")
    return 0
