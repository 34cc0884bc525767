"""Arguments that several crlso commands share."""

from __future__ import annotations

import argparse

from nasspace.fetch import DataStore


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder of the benchmark files (default: $CRLSO_DATA_DIR, else data/ of the checkout)",
    )


def data_store(args: argparse.Namespace) -> DataStore:
    return DataStore(args.data_dir)
