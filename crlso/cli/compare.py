"""``crlso compare``: several methods x seeds through an executor (local processes or Ray); table and plot."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crlso.cli.common import int_list
from crlso.cli.search import add_search_options, parse_options, with_cache_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("compare", help="compare search methods over many seeds (mean test@budget, curves)")
    parser.add_argument("--methods", default="random,rea,crlso", help="comma-separated methods (default random,rea,crlso)")
    parser.add_argument("--seeds", type=int, default=50, help="number of seeds: runs seeds 0..N-1 (default 50)")
    parser.add_argument("--budgets", type=int_list, default=(50, 100, 150, 200), help="comma-separated budgets; each run goes to the largest")
    parser.add_argument("--workers", type=int, default=None, help="worker processes, or CPUs of a local Ray instance (default: CPU count)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="local process pool (default) or Ray tasks (needs pip install 'crlso[ray]')")
    parser.add_argument("--address", default=None, help="with --executor ray: join this Ray cluster (e.g. auto, ray://host:10001); default starts a local one")
    parser.add_argument("--max-retries", type=int, default=3, help="retries of a failed or killed run; it resumes from its queries.jsonl (default 3)")
    parser.add_argument("--out", required=True, help="comparison folder (runs/<method>/seed_<s>, table.md, compare.json, best_so_far.png)")
    add_search_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from crlso.executors import create_executor
    from crlso.experiment import RunConfig, run_comparison

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods:
        raise ValueError("--methods lists no method")
    if args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
    if min(args.budgets) < 1:
        raise ValueError("--budgets must be positive")
    try:
        executor = create_executor(args.executor, workers=args.workers, address=args.address, max_retries=args.max_retries)
    except ImportError as exc:  # ray missing: one line naming the extra, like other expected errors
        print(f"crlso compare: error: {exc}", file=sys.stderr)
        return 2
    options = with_cache_dir(parse_options(args.option, methods), args.cache_dir)
    base = RunConfig(space=args.space, dataset=args.dataset, search_metric=args.search_metric,
                     report_metric=args.report_metric, data_dir=args.data_dir)
    result = run_comparison(methods=methods, seeds=list(range(args.seeds)), budgets=sorted(args.budgets),
                            out_dir=args.out, base=base, options=options, executor=executor)
    out = Path(args.out).resolve()
    print((out / "table.md").read_text(), end="")
    print(f"{len(methods)} methods x {args.seeds} seeds in {result['wall_seconds']:.0f} s with {result['workers']} {args.executor} workers")
    print(f"results: {out} (table.md, compare.json, best_so_far.png, runs/)")
    return 0
