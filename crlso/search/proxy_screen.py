"""Pre-screening by zero-cost proxies: the hybrid's ``screen_evaluator="zc:PROXY[+PROXY...]"``.

The screener scores candidates by the rank-average of cached proxy scores (`crlso.oracles.zero_cost`),
so screening costs no query and no network evaluation; it reads no label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nasspace import Genotype

from crlso.oracles.zero_cost import ProxyTable, parse_proxy_list
from crlso.errors import ConfigError

__all__ = ["PREFIX", "ProxyScore", "ProxyScreener", "is_proxy_screener"]

PREFIX = "zc:"


def is_proxy_screener(name: str) -> bool:
    """Whether a ``screen_evaluator`` value names proxies (``zc:...``)."""
    return name.startswith(PREFIX)


@dataclass(frozen=True)
class ProxyScore:
    """One screened cell: ``key`` is its ensemble score (larger is better)."""

    genotype: Genotype
    key: float


class ProxyScreener:
    """Scores cells by a `ProxyTable`'s ensemble (the `crlso.search.hybrid.Screener` contract)."""

    def __init__(self, table: ProxyTable):
        self.table = table

    @staticmethod
    def parse(name: str) -> str:
        """``"zc:synflow+params"`` -> ``"synflow+params"`` (the proxies, validated).

        Raises:
            ValueError: not a ``zc:`` name, or no proxy in it.
        """
        if not is_proxy_screener(name):
            raise ConfigError(f"screen_evaluator {name!r} is not a proxy screener; write zc:PROXY[+PROXY...]")
        proxies = name[len(PREFIX):]
        parse_proxy_list(proxies, option="screen_evaluator")
        return proxies

    def evaluate(self, genotypes: Sequence[Genotype]) -> list[ProxyScore]:
        """One `ProxyScore` per genotype, in order."""
        scores = self.table.ensemble([str(g) for g in genotypes]).tolist()
        return [ProxyScore(g, float(v)) for g, v in zip(genotypes, scores)]
