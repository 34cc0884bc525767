"""``crlso data fetch|info``: get the benchmark files and see what is there."""

from __future__ import annotations

import argparse
import os

from crlso.cli.common import add_data_dir, data_store


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="fetch benchmark files and list what is present")
    commands = parser.add_subparsers(dest="data_command", metavar="{fetch,info,bench}", required=True)

    fetch = commands.add_parser("fetch", help="fetch files (all default ones when no NAME is given), verify, store")
    fetch.add_argument("names", nargs="*", metavar="NAME", help="manifest names (see `crlso data info`)")
    fetch.add_argument(
        "--mirror",
        default=os.environ.get("CRLSO_MIRROR"),
        help="a mirror folder laid out as <owner>/<repo>/<commit>/<path> (default: $CRLSO_MIRROR; else download)",
    )
    fetch.add_argument("--force", action="store_true", help="fetch again even when a verified copy is present")
    add_data_dir(fetch)
    fetch.set_defaults(handler=run_fetch)

    info = commands.add_parser("info", help="list every manifest file: present, missing or corrupt")
    info.add_argument("--verify", action="store_true", help="recompute checksums (slower)")
    add_data_dir(info)
    info.set_defaults(handler=run_info)

    bench = commands.add_parser("bench", help="time and measure loading an NB201 table with every metric (B3)")
    bench.add_argument("--dataset", default="cifar10", help="cifar10, cifar10-valid, cifar100 or ImageNet16-120 (default cifar10)")
    add_data_dir(bench)
    bench.set_defaults(handler=run_bench)


def run_fetch(args: argparse.Namespace) -> int:
    from tqdm import tqdm  # here, not at import: every crlso command builds this parser

    store = data_store(args)
    names = args.names or store.default_names()
    for name in names:
        store.entry(name)  # unknown names fail before anything is fetched
    for name in names:
        entry = store.entry(name)
        with tqdm(total=entry.size, unit="B", unit_scale=True, desc=name, leave=False) as bar:

            def progress(done: int, total: int | None, bar: "tqdm" = bar) -> None:
                bar.total = total or bar.total
                bar.update(done - bar.n)

            path = store.fetch(name, mirror=args.mirror, force=args.force, progress=progress)
        print(f"{name}: ok ({path})")
    print(f"data folder: {store.data_dir}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    store = data_store(args)
    rows = store.status(verify=args.verify)
    width = max(len(r.entry.name) for r in rows)
    print(f"data folder: {store.data_dir}")
    for row in rows:
        state = row.state if (row.state != "missing" or row.entry.default) else "missing (optional)"
        size = f"{row.entry.size / 1e6:8.1f} MB" if row.entry.size else "       ? MB"
        detail = f" [{row.detail}]" if row.detail else ""
        print(f"{row.entry.name:<{width}}  {state:<18} {size}  {row.entry.holds}{detail}")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    import resource
    import time

    from nasspace.benchmarks.nb201 import NB201Table

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    table = NB201Table(args.dataset, store=data_store(args))
    metrics = table.available_metrics()
    for name in metrics:
        table.metric(name)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is in KiB on Linux
    print(f"NB201 {args.dataset}: {len(table)} cells, metrics {', '.join(metrics)}")
    print(f"load time {seconds:.3f} s; peak resident memory of the process {peak_mb:.0f} MB "
          f"({peak_mb - before / 1024:.0f} MB added by the load)")
    return 0
