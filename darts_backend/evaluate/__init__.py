"""Score genotypes without training them.

* `supernet`: a trained supernet's shared weights (`SupernetEvaluator`, `load_evaluator`).
* `single_path`: the same weights read SPOS's way, BN re-estimated per path (`SinglePathEvaluator`).
* `screening`: either evaluator by name (`load_screener`: ``mixture``, ``single-path``).
* `proxies`: zero-cost proxies of one untrained network (synflow, jacov, snip, grad_norm, fisher,
  params, flops), registered by name.
* `zero_cost`: the setting every proxy is computed under (space, network size, seeded initialisation,
  one fixed image batch, never its labels) and `ZeroCostScorer`, which builds a cell's network and
  scores it.
* `proxy_cache`: one file of per-cell scores per space, proxy and setting (atomic, resumable).

A run over many cells with a progress bar is `darts_backend.runs.zero_cost` (``darts-backend zc``).
"""

from darts_backend.evaluate.proxies import PROXIES, Proxy, ProxyInputs, get_proxy, list_proxies
from darts_backend.evaluate.proxy_cache import ProxyCache, default_cache_dir
from darts_backend.evaluate.screening import SCREENERS, load_screener
from darts_backend.evaluate.single_path import SinglePathEvaluator, load_single_path_evaluator
from darts_backend.evaluate.supernet import Screening, SupernetEvaluator, load_evaluator
from darts_backend.evaluate.zero_cost import ZeroCostConfig, ZeroCostScorer, build_network, load_proxy_images

__all__ = [
    "Screening",
    "SupernetEvaluator",
    "load_evaluator",
    "SCREENERS",
    "load_screener",
    "SinglePathEvaluator",
    "load_single_path_evaluator",
    "PROXIES",
    "Proxy",
    "ProxyInputs",
    "get_proxy",
    "list_proxies",
    "ProxyCache",
    "default_cache_dir",
    "ZeroCostConfig",
    "ZeroCostScorer",
    "build_network",
    "load_proxy_images",
]
