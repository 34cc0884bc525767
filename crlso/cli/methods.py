"""``crlso methods``: every name ``search``, ``compare`` and ``ablate`` take: the searchers and their variants, then
the oracles ``--oracle`` takes."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("methods", help="list the searchers, their variants and the oracles, each with a one-line summary")
    parser.set_defaults(handler=run)


def method_summaries() -> list[tuple[str, str, str]]:
    """``(name, kind, summary)``: each searcher (its class docstring's first line), each variant, each oracle."""
    from crlso.oracles.registry import list_oracles, oracle_entry
    from crlso.search import list_searchers, searcher_summary
    from crlso.search.variants import VARIANTS

    rows = [(name, "searcher", searcher_summary(name)) for name in list_searchers()]
    for name, variant in VARIANTS.items():
        if name not in list_searchers():
            rows.append((name, f"variant of {variant.method}", variant.summary))
    return rows + [(name, "oracle", oracle_entry(name).summary) for name in list_oracles()]


def run(args: argparse.Namespace) -> int:
    rows = method_summaries()
    width = max(len(name) for name, _, _ in rows)
    kind_width = max(len(kind) for _, kind, _ in rows)
    for name, kind, summary in rows:
        print(f"{name:<{width}}  {kind:<{kind_width}}  {summary}")
    return 0
