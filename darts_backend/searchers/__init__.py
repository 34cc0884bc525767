"""DARTS-family searchers behind one contract, created by name.

Importing this package registers every method: ``create_searcher("single-darts", network)``.
"""

from darts_backend.searchers.base import (
    Batch,
    Searcher,
    SearcherConfig,
    create_searcher,
    list_searchers,
    parse_options,
    register_searcher,
    searcher_class,
)
from darts_backend.searchers.darts import DartsSearcher
from darts_backend.searchers.dnad import DNADConfig, DNADSearcher
from darts_backend.searchers.fx_darts import FXDartsConfig, FXDartsSearcher
from darts_backend.searchers.ms_darts import MSDartsConfig, MSDartsSearcher
from darts_backend.searchers.pc_darts import PCDartsConfig, PCDartsSearcher
from darts_backend.searchers.single_darts import SingleDartsSearcher
from darts_backend.searchers.spos import SposConfig, SposSearcher

__all__ = [
    "Batch",
    "Searcher",
    "SearcherConfig",
    "create_searcher",
    "list_searchers",
    "parse_options",
    "register_searcher",
    "searcher_class",
    "DartsSearcher",
    "DNADConfig",
    "DNADSearcher",
    "FXDartsConfig",
    "FXDartsSearcher",
    "MSDartsConfig",
    "MSDartsSearcher",
    "PCDartsConfig",
    "PCDartsSearcher",
    "SingleDartsSearcher",
    "SposConfig",
    "SposSearcher",
]
