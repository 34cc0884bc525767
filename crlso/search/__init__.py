"""Searchers under one ask/tell contract: random, rea, local, crlso, latent_bo (see `crlso.search.base`)."""

from crlso.search.base import (
    Searcher,
    SearchDiverged,
    create_searcher,
    list_searchers,
    register_searcher,
    run_search,
    searcher_config,
)

__all__ = [
    "Searcher",
    "SearchDiverged",
    "create_searcher",
    "list_searchers",
    "register_searcher",
    "run_search",
    "searcher_config",
]
