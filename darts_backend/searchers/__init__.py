"""DARTS-family searchers behind one contract, created by name.

Importing this package registers every method: ``create_searcher("single-darts", network)``.
``spos`` takes a ``seed`` keyword for its path sampler (`SposSearcher`).
"""

from darts_backend.searchers.base import (
    Batch,
    Searcher,
    SearcherConfig,
    create_searcher,
    list_searchers,
    register_searcher,
    searcher_class,
)
from darts_backend.searchers.darts import DartsSearcher
from darts_backend.searchers.dnad import DNADConfig, DNADSearcher
from darts_backend.searchers.fx_darts import FXDartsConfig, FXDartsSearcher
from darts_backend.searchers.single_darts import SingleDartsSearcher
from darts_backend.searchers.spos import SposSearcher

__all__ = [
    "Batch",
    "Searcher",
    "SearcherConfig",
    "create_searcher",
    "list_searchers",
    "register_searcher",
    "searcher_class",
    "DartsSearcher",
    "DNADConfig",
    "DNADSearcher",
    "FXDartsConfig",
    "FXDartsSearcher",
    "SingleDartsSearcher",
    "SposSearcher",
]
