"""Named variants of the CR-LSO searchers: the ablation of what the regularized latent space buys.

A variant is a searcher (``crlso``, ``crlso-paper`` or ``hybrid``) with fixed options; ``crlso compare
--methods`` and ``crlso ablate`` take variant names wherever they take method names, and run
folders record the variant beside the method. Options given for a variant by name overlay its own.

======================  ================================================================================
``paper``               the public loop, sign corrected (`crlso.search.crlso_paper`): one joint VAE + ICNN fit
``paper-noreg``         the same loop on the unlabelled VAE, frozen; the ICNN fitted on its codes afterwards
``paper-mlp``           joint training with a non-convex MLP head in place of the ICNN
``paper-nograd``        noise around the best codes only, no gradient step
``paper-rereg``         paper + a joint refit whenever the labelled set has grown 1.5x
``crlso``               the default searcher (`crlso.search.crlso`)
``crlso-noneighbours``  the default without one-edge neighbour candidates and stall sweeps
``crlso-frozen``        the default on the unlabelled VAE, frozen (ICNN fitted on fixed codes)
``crlso-zcinit``        the default with a zero-cost warm start (initial cells: top of synflow + params)
``crlso-zcfeat``        the default whose predictor also reads synflow, params and flops scores
``crlso-zcscreen``      the default, each round's proposals pre-screened by synflow (the hybrid, no supernet)
``crlso-zc``            warm start and proxy features together
======================  ================================================================================

The ``zc`` variants read the proxy cache of ``darts-backend zc --space nb201 --all`` under the cache
folder (`crlso.oracles.zero_cost`); they cost no query beyond the default's.

`CPU_PAPER_JOINT` shrinks the paper variants' joint fit (200 epochs at lr 1e-4, about 9 minutes per
search on one CPU core) to 5 epochs at lr 1e-3 (``crlso ablate --size cpu``); the default searcher's
own refits are already CPU-sized.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from crlso.errors import ConfigError

__all__ = ["Variant", "VARIANTS", "TWINS", "CPU_PAPER_JOINT", "resolve_variant", "resolve_method", "variant_names"]


@dataclass(frozen=True)
class Variant:
    """A searcher ``method`` run with ``options``; ``summary`` says in a line what it tests."""

    method: str
    options: Mapping[str, Any] = field(default_factory=dict)
    summary: str = ""


VARIANTS: dict[str, Variant] = {
    "paper": Variant("crlso-paper", {}, "published loop: one joint VAE+ICNN fit, then noisy ICNN steps"),
    "paper-noreg": Variant("crlso-paper", {"regularize": False}, "paper on the frozen unlabelled VAE"),
    "paper-mlp": Variant("crlso-paper", {"head": "mlp"}, "paper with a non-convex MLP head"),
    "paper-nograd": Variant("crlso-paper", {"step_size": 0.0, "step_growth": 0.0}, "paper, noise only (no gradient step)"),
    "paper-rereg": Variant("crlso-paper", {"rereg_growth": 1.5}, "paper + joint refits as labels grow 1.5x"),
    "crlso": Variant("crlso", {}, "the default searcher"),
    "crlso-noneighbours": Variant("crlso", {"neighbour_top": 0, "stall_rounds": 0}, "default without neighbours and stalls"),
    "crlso-frozen": Variant("crlso", {"regularize": False}, "default on the frozen unlabelled VAE"),
    "crlso-zcinit": Variant("crlso", {"init": "zc"}, "default with a zero-cost warm start"),
    "crlso-zcfeat": Variant("crlso", {"proxy_features": "synflow,params,flops"}, "default + proxy scores as predictor inputs"),
    "crlso-zcscreen": Variant("hybrid", {"screen": True, "screen_evaluator": "zc:synflow"},
                              "default, proposals pre-screened by synflow"),
    "crlso-zc": Variant("crlso", {"init": "zc", "proxy_features": "synflow,params,flops"},
                        "zero-cost warm start + proxy features"),
}

CPU_PAPER_JOINT: dict[str, Any] = {"epochs": 5, "lr": 1e-3}

# (variant, its twin without one component): the paired differences an ablation reports.
TWINS: tuple[tuple[str, str], ...] = (
    ("paper", "paper-noreg"),
    ("paper", "paper-mlp"),
    ("paper", "paper-nograd"),
    ("paper-rereg", "paper"),
    ("crlso", "crlso-frozen"),
    ("crlso", "crlso-noneighbours"),
    ("crlso-zcinit", "crlso"),
    ("crlso-zcfeat", "crlso"),
    ("crlso-zcscreen", "crlso"),
    ("crlso-zc", "crlso"),
)


def variant_names() -> list[str]:
    """Every variant name, in the table's order."""
    return list(VARIANTS)


def resolve_variant(name: str, options: Mapping[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """``(method, options)`` of a variant, ``options`` overlaid on its own.

    Raises:
        ValueError: ``name`` is not a variant (lists them).
    """
    if name not in VARIANTS:
        raise ConfigError(f"unknown variant {name!r}; valid: {', '.join(VARIANTS)}")
    variant = VARIANTS[name]
    return variant.method, {**variant.options, **dict(options or {})}


def resolve_method(name: str, options: Mapping[str, Any] | None = None, *, space: str = "nb201",
                   cache_dir: str | None = None) -> tuple[str, str | None, dict[str, Any]]:
    """``(method, variant or None, options)`` of a name every command takes: a searcher or a variant. The one place a
    command resolves the name; the options are checked against the searcher's config once, after what every command
    adds under the user's options: ``cache_dir`` (resolved; for a searcher with a cache folder) and, outside nb201,
    the space's latent model (`crlso.models.config.default_model_config`) under any ``model`` fields the user set.

    Raises:
        ValueError: neither a searcher nor a variant, or a bad option (lists the valid ones).
    """
    import dataclasses

    from crlso.search import list_searchers, searcher_config

    if name in list_searchers() or name not in VARIANTS:
        method, variant, merged = name, None, dict(options or {})
    else:
        (method, merged), variant = resolve_variant(name, options), name
    fields = {f.name for f in dataclasses.fields(searcher_config(method))}  # an unknown name lists the searchers
    if cache_dir and "cache_dir" in fields:
        from pathlib import Path

        merged.setdefault("cache_dir", str(Path(cache_dir).resolve()))
    if space != "nb201" and "model" in fields:
        merged["model"] = _space_model(merged.get("model", {}), space)
    searcher_config(method, merged)
    return method, variant, merged


def _space_model(model: Mapping[str, Any] | str, space: str) -> dict[str, Any]:
    """The space's default latent model config under the user's ``model`` fields (a mapping or JSON text)."""
    import dataclasses
    import json

    from crlso.models.config import default_model_config

    return {**dataclasses.asdict(default_model_config(space)), **(json.loads(model) if isinstance(model, str) else model),
            "space": space}
