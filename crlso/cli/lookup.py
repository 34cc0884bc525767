"""``crlso lookup GENOTYPE``: every metric of one cell, as JSON."""

from __future__ import annotations

import argparse
import json

from crlso.cli.common import add_data_dir, data_store
from nasspace import get_space


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("lookup", help="print every available metric of a cell as JSON")
    parser.add_argument("genotype", help="the genotype's canonical string (quote it)")
    parser.add_argument("--space", default="nb201", choices=["nb201"], help="search space (default nb201)")
    parser.add_argument("--dataset", default="cifar10", help="cifar10, cifar100 or ImageNet16-120")
    add_data_dir(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nasspace.benchmarks.nb201 import NB201Table

    genotype = get_space(args.space).parse(args.genotype)
    table = NB201Table(args.dataset, store=data_store(args))
    record = table.record(genotype)
    record["canonical_hash"] = get_space(args.space).canonical_hash(genotype)
    print(json.dumps(record, indent=2))
    return 0
