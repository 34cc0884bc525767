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


def seed_list(text: str) -> tuple[int, ...]:
    """argparse type for seeds: ``N`` (seeds 0..N-1), a range ``A-B`` (inclusive), or a comma list of both (``0,5,100-149``).

    A bare single integer means a count, so ``--seeds 50`` keeps its meaning of seeds 0..49.
    """
    text = text.strip()
    try:
        if text.isdigit():
            count = int(text)
            if count < 1:
                raise argparse.ArgumentTypeError(f"--seeds must be >= 1, got {text}")
            return tuple(range(count))
        seeds: list[int] = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            first, dash, last = part.partition("-")
            if dash:
                low, high = int(first), int(last)
                if high < low:
                    raise argparse.ArgumentTypeError(f"seed range {part!r} ends before it starts")
                seeds.extend(range(low, high + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count N, a range A-B or a comma list of seeds, got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("expected at least one seed")
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"seeds repeat in {text!r}")
    return tuple(seeds)
