"""``crlso spaces``: every search space crlso can search, with its tables, metrics, objectives and cell count."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("spaces", help="list the search spaces with their datasets, metrics and objectives")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--metrics", action="store_true", help="also say what each metric is")
    parser.set_defaults(handler=run)


def describe_spaces() -> list[dict]:
    """One entry per registered space: its cell count where known and its tables (`nasspace.benchmarks.registry`)."""
    from nasspace import get_space, list_spaces
    from nasspace.benchmarks.registry import list_table_specs

    entries = []
    for name in list_spaces():
        space = get_space(name)
        cells = getattr(space, "num_cells", None)
        tables = [{"dataset": s.dataset, "search_metric": s.search_metric, "report_metric": s.report_metric,
                   "objectives": list(s.objectives), "minimize": list(s.minimize), "cells": s.num_cells,
                   "metrics": dict(s.metrics)} for s in list_table_specs(name)]
        entries.append({"space": name, "cells": cells, "tables": tables})
    return entries


def _objectives(objectives: list[str]) -> str:
    latency = [o for o in objectives if o.startswith("latency:")]
    rest = [o for o in objectives if not o.startswith("latency:")]
    return ", ".join(rest + ([f"latency:<{len(latency)} devices>"] if latency else [])) or "-"


def run(args: argparse.Namespace) -> int:
    entries = describe_spaces()
    if args.json:
        print(json.dumps(entries, indent=1))
        return 0
    print("| space | cells | dataset | search metric | report metric | extra objectives |")
    print("|---|---|---|---|---|---|")
    for entry in entries:
        cells = f"{entry['cells']:,}" if isinstance(entry["cells"], int) else "not enumerated"
        if not entry["tables"]:
            print(f"| {entry['space']} | {cells} | (no table: --oracle train or a supernet) | | | |")
        for table in entry["tables"]:
            print(f"| {entry['space']} | {table['cells']:,} | {table['dataset']} | {table['search_metric']} | "
                  f"{table['report_metric']} | {_objectives(table['objectives'])} |")
    if args.metrics:
        for entry in entries:
            for table in entry["tables"]:
                for metric, note in table["metrics"].items():
                    print(f"{entry['space']} {table['dataset']} {metric}: {note}")
    return 0
