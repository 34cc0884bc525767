"""Searchers under one ask/tell contract (`crlso.search.base`), one module per searcher, by name
(`crlso.search.registry`, which imports none of them). Importing this package registers the built-in ones:
random, rea, local, crlso, crlso-paper, latent_bo and hybrid."""

from crlso.search.base import Searcher, SearchDiverged, create_searcher, run_search, searcher_config
from crlso.search.registry import list_searchers, register_searcher, searcher_class, searcher_summary

# The built-in searchers register themselves on import.
import crlso.search.random  # noqa: E402,F401
import crlso.search.rea  # noqa: E402,F401
import crlso.search.local  # noqa: E402,F401
import crlso.search.crlso  # noqa: E402,F401
import crlso.search.crlso_paper  # noqa: E402,F401
import crlso.search.latent_bo  # noqa: E402,F401
import crlso.search.hybrid  # noqa: E402,F401

__all__ = [
    "Searcher",
    "SearchDiverged",
    "create_searcher",
    "list_searchers",
    "register_searcher",
    "run_search",
    "searcher_config",
    "searcher_class",
    "searcher_summary",
]
