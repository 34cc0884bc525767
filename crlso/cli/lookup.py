"""``crlso lookup GENOTYPE``: every metric of one cell in a benchmark table, as JSON."""

from __future__ import annotations

import argparse
import json

from crlso.cli.common import add_data_dir
from nasspace import get_space


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("lookup", help="print every available metric of a cell as JSON")
    parser.add_argument("genotype", help="the genotype's canonical string (quote it)")
    parser.add_argument("--space", default="nb201", help="search space with a table (default nb201; crlso spaces lists them)")
    parser.add_argument("--dataset", default=None, help="dataset or task (default: the space's first table, cifar10 on nb201)")
    parser.add_argument("--objectives", action="store_true",
                        help="also the table's extra objectives (on nb201: latency:<device> on 27 devices; reads them with torch)")
    add_data_dir(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nasspace.benchmarks.registry import default_dataset, get_table_spec, load_table

    space = get_space(args.space)
    genotype = space.parse(args.genotype)
    spec = get_table_spec(args.space, args.dataset or default_dataset(args.space))
    table = load_table(spec.space, spec.dataset, args.data_dir)
    record = table.record(genotype)
    if args.objectives:
        record.update({name: table.query(genotype, name) for name in spec.objectives})
    record["canonical_hash"] = space.canonical_hash(genotype)
    print(json.dumps(record, indent=2))
    return 0
