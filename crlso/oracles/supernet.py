"""The supernet oracle (``supernet``): a supernet's held-out accuracy with inherited weights as the search metric
(spaces without a table, e.g. DARTS; ``crlso search --supernet``). Imports `darts_backend` lazily."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nasspace.oracle import Oracle

from crlso.errors import ConfigError
from crlso.oracles.registry import OracleContext, PickedOracle, register_oracle

__all__ = ["SupernetSpec", "supernet_oracle"]


@dataclass(frozen=True)
class SupernetSpec:
    """Settings of the supernet oracle: the finished supernet search's folder, and the held-out images scored."""

    path: str = ""
    images: int = 512

    def __post_init__(self) -> None:
        if not self.path:
            raise ConfigError("the supernet oracle needs the folder of a finished supernet search (path)")
        if not isinstance(self.images, int) or self.images < 1:
            raise ConfigError(f"supernet oracle: images must be an integer >= 1, got {self.images!r}")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "SupernetSpec":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names - {"name"})
        if unknown:
            raise ConfigError(f"unknown supernet-oracle setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}")
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_json(self) -> dict[str, Any]:
        return {"name": "supernet", **asdict(self)}


def supernet_oracle(run_dir: str | Path, *, budget: int, metric: str = "supernet_acc", images: int = 512) -> Oracle:
    """An `Oracle` whose search metric is a supernet's held-out accuracy (%) with inherited weights.

    For spaces without a table (DARTS): each distinct genotype costs one query of the budget, like a
    table lookup; the held-out images are train images the supernet never saw (`load_evaluator`).
    """
    from darts_backend.runs.evaluators import load_evaluator

    evaluator = load_evaluator(run_dir, images=images)
    return Oracle(lambda genotype: evaluator.score([genotype])[0], budget=budget, metric=metric)


@register_oracle("supernet", spec=SupernetSpec, summary="a finished supernet's held-out accuracy with inherited weights")
def _supernet_factory(spec: SupernetSpec, context: OracleContext) -> PickedOracle:
    return PickedOracle(supernet_oracle(spec.path, budget=context.budget, metric=context.metric, images=spec.images))
