"""Searchers under one ask/tell contract (`crlso.search.base`), one module per searcher, by name
(`crlso.search.registry`: random, rea, local, crlso, crlso-paper, latent_bo and hybrid, each imported on the first
lookup)."""

from crlso.search.base import Searcher, SearchDiverged, create_searcher, run_search, searcher_config
from crlso.search.registry import list_searchers, register_searcher, searcher_class, searcher_summary

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
