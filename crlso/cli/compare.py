"""``crlso compare``: several methods x seeds through an executor (local processes or Ray); table and plot.

``crlso ablate`` is the same run over the named CR-LSO variants (`crlso.search.variants`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nasspace.config_file import add_config_flag, namespace_config

from crlso.cli.common import int_list, seed_list
from crlso.cli.oracle_options import add_oracle_options
from crlso.cli.search import (add_search_options, add_space_file_options, check_cache_dir, parse_options,
                              resolve_oracle_and_metric)
from crlso.errors import ConfigError


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """Seeds, budgets, executor and output flags of `compare` and `ablate`."""
    parser.add_argument("--seeds", type=seed_list, default=tuple(range(50)),
                        help="seeds: N (0..N-1), a range A-B, or a comma list such as 0,5,100-149 (default 50)")
    parser.add_argument("--budgets", type=int_list, default=(50, 100, 150, 200), help="comma-separated budgets; each run goes to the largest")
    parser.add_argument("--workers", type=int, default=None, help="worker processes, or CPUs of a local Ray instance (default: CPU count)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="local process pool (default) or Ray tasks (needs pip install 'crlso[ray]')")
    parser.add_argument("--address", default=None, help="with --executor ray: join this Ray cluster (e.g. auto, ray://host:10001); default starts a local one")
    parser.add_argument("--max-retries", type=int, default=3, help="retries of a failed or killed run; it resumes from its queries.jsonl (default 3)")
    parser.add_argument("--out", required=True, help="comparison folder (config.json, runs/<name>/seed_<s>, table.md, compare.json, best_so_far.png)")
    parser.add_argument("--tensorboard", default=None, metavar="DIR",
                        help="log each run's query values and best so far to TensorBoard event files in DIR/<name>/seed_<s> "
                             "(needs pip install tensorboard)")
    add_search_options(parser)
    add_space_file_options(parser)
    add_oracle_options(parser, executor=False)  # each run is one task of the executor above; it trains its cells in turn
    add_config_flag(parser)
    # options: {METHOD: {KEY: VALUE}} in a --config file (the folder's config.json has it); --option wins
    parser.set_defaults(options=None)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("compare", help="compare search methods over many seeds (mean test@budget, curves)")
    parser.add_argument("--methods", default="random,rea,crlso",
                        help="comma-separated methods or CR-LSO variants (crlso ablate --help lists them; default random,rea,crlso)")
    _add_run_options(parser)
    parser.set_defaults(handler=run)

    from crlso.search.variants import VARIANTS

    listing = "; ".join(f"{name}: {v.summary}" for name, v in VARIANTS.items())
    ablate = subparsers.add_parser("ablate", help="run the CR-LSO ablation variants side by side (a compare of variants)",
                                   description=f"Variants: {listing}.")
    ablate.add_argument("--variants", default="all", help="comma-separated variants, or all (default)")
    ablate.add_argument("--size", choices=("paper", "cpu"), default="paper",
                        help="paper: the paper variants' joint fit as published (200 epochs, lr 1e-4); "
                             "cpu: 5 epochs at lr 1e-3 (about 15 s on one core instead of 9 min)")
    _add_run_options(ablate)
    ablate.set_defaults(handler=run_ablation)


def run(args: argparse.Namespace) -> int:
    return _compare(args, [m.strip() for m in args.methods.split(",") if m.strip()], {})


def run_ablation(args: argparse.Namespace) -> int:
    from crlso.search.variants import CPU_PAPER_JOINT, VARIANTS

    names = list(VARIANTS) if args.variants.strip() == "all" else [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ConfigError(f"unknown variant(s) {', '.join(unknown)}; valid: {', '.join(VARIANTS)}")
    extra = {n: {"joint": dict(CPU_PAPER_JOINT)} for n in names if args.size == "cpu" and VARIANTS[n].method == "crlso-paper"}
    return _compare(args, names, extra)


def _compare(args: argparse.Namespace, names: Sequence[str], extra: dict[str, dict[str, Any]]) -> int:
    """Run ``names`` (methods or variants) x ``--seeds``; ``extra`` options sit under the user's ``--option``s."""
    from nasspace.atomic import write_json_atomic
    from crlso.execution.executors import create_executor
    from crlso.experiments.compare import run_comparison
    from crlso.experiments.run import RunConfig
    from crlso.search.variants import TWINS

    if not names:
        raise ConfigError("no method or variant to run")
    if len(set(names)) != len(names):
        raise ConfigError(f"a method is named twice in {','.join(names)}")
    if min(args.budgets) < 1:
        raise ConfigError("--budgets must be positive")
    from nasspace.tracking import require_tensorboard

    require_tensorboard(args.tensorboard)
    oracle, batch = resolve_oracle_and_metric(args)
    from_file = args.options or {}
    if not isinstance(from_file, dict) or not all(isinstance(v, dict) for v in from_file.values()):
        raise ConfigError(f"config key options must map each method to a mapping of its options, got {from_file!r}")
    unknown = sorted(set(from_file) - set(names))
    if unknown:
        raise ConfigError(f"config options name method(s) {', '.join(unknown)}; methods of this run: {', '.join(names)}")
    check_cache_dir(args.cache_dir)
    user_options = {name: {**from_file.get(name, {}), **opts} for name, opts in parse_options(args.option, list(names)).items()}
    options = {name: {**extra.get(name, {}), **opts} for name, opts in user_options.items()}
    try:
        executor = create_executor(args.executor, workers=args.workers, address=args.address, max_retries=args.max_retries)
    except ImportError as exc:  # ray missing: one line naming the extra, like other expected errors
        print(f"crlso {args.command}: error: {exc}", file=sys.stderr)
        return 2
    base = RunConfig(space=args.space, dataset=args.dataset, search_metric=args.search_metric,
                     space_file=getattr(args, "space_file", None), table_file=getattr(args, "table", None),
                     report_metric=args.report_metric, data_dir=args.data_dir, oracle=oracle,
                     budget_seconds=args.budget_seconds, batch=batch)
    seeds = list(args.seeds)
    # paired differences: each variant against its twin, and the first method against each other one
    pairs = [(a, b) for a, b in TWINS if a in names and b in names]
    pairs += [(names[0], other) for other in names[1:] if (names[0], other) not in pairs and (other, names[0]) not in pairs]
    result = run_comparison(methods=list(names), seeds=seeds, budgets=sorted(args.budgets),
                            out_dir=args.out, base=base, options=options, executor=executor, pairs=pairs,
                            tensorboard=args.tensorboard, cache_dir=args.cache_dir)
    out = Path(args.out).resolve()
    # the resolved command, for `--config OUT/config.json` to rerun it (the user's options; --size adds its own);
    # written once the comparison ran, so that a refused one leaves no folder and another's config stays as it was
    write_json_atomic(out / "config.json", {**namespace_config(args, exclude=("out", "option")), "options": user_options,
                                            "data_dir": base.data_dir})
    print((out / "table.md").read_text(), end="")
    if (out / "paired.md").exists():
        print((out / "paired.md").read_text(), end="")
    span = f"seeds {seeds[0]}..{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else f"{len(seeds)} seeds"
    print(f"{len(names)} methods x {span} in {result['wall_seconds']:.0f} s with {result['workers']} {args.executor} worker{'s' if result['workers'] != 1 else ''}")
    print(f"results: {out} (table.md, paired.md, compare.json, best_so_far.png, runs/)")
    extra = [m for m in result["methods"] if m not in names]
    if extra:
        print(f"the table also holds the runs of {', '.join(extra)} found in {out / 'runs'}", file=sys.stderr)
    for reason in result["left_out"]:
        print(f"left out of the table: {reason}", file=sys.stderr)
    return 0
