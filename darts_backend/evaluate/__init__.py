"""Score genotypes without training them.

* `supernet`: a trained supernet's shared weights (`SupernetEvaluator`).
* `single_path`: the same weights read SPOS's way, BN re-estimated per path (`SinglePathEvaluator`).

Both take a network and image batches; `darts_backend.runs.evaluators` builds them from a search run folder
(`load_evaluator`, `load_single_path_evaluator`, `load_screener` by name).
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
from darts_backend.evaluate.single_path import SinglePathEvaluator
from darts_backend.evaluate.supernet import Screening, SupernetEvaluator
from darts_backend.evaluate.zero_cost import ZeroCostConfig, ZeroCostScorer, build_network, load_proxy_images

__all__ = [
    "Screening",
    "SupernetEvaluator",
    "SinglePathEvaluator",
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
