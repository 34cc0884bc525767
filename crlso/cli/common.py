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


def int_list(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated integers such as ``50,100,150``."""
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values
