"""Searchers under one ask/tell contract: random, rea, local, crlso (see `crlso.search.base`)."""

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
from crlso.search import latent_bo  # noqa: E402,F401  (registers "latent_bo")
