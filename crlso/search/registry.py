"""The registry of searchers: name -> `Searcher` class. It imports no searcher when it is imported.

A searcher module registers its class with `register_searcher` when imported. The built-in searchers are listed
here by module name (`BUILTIN_MODULES`) and imported on the first lookup, so that ``import crlso.search`` (and
``crlso --help``, ``crlso lookup``) loads no torch; a user's searcher registers itself the same way
(`crlso.register_searcher`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING
from crlso.errors import ConfigError

if TYPE_CHECKING:
    from crlso.search.base import Searcher

__all__ = ["BUILTIN_MODULES", "register_searcher", "list_searchers", "searcher_class", "searcher_summary"]

BUILTIN_MODULES = tuple(f"crlso.search.{name}" for name in ("random", "rea", "local", "crlso", "crlso_paper", "latent_bo",
                                                            "hybrid"))
"""The modules of the built-in searchers, imported (and so registered) on the first lookup."""

_SEARCHERS: dict[str, type["Searcher"]] = {}


def _load_builtin() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def register_searcher(name: str) -> Callable[[type["Searcher"]], type["Searcher"]]:
    """Class decorator adding a searcher under ``name``."""

    def decorate(cls: type["Searcher"]) -> type["Searcher"]:
        cls.name = name
        _SEARCHERS[name] = cls
        return cls

    return decorate


def list_searchers() -> list[str]:
    """Names of the registered searchers, sorted."""
    _load_builtin()
    return sorted(_SEARCHERS)


def searcher_class(name: str) -> type["Searcher"]:
    """The class registered under ``name``.

    Raises:
        ValueError: an unknown name; lists the valid ones.
    """
    if name not in _SEARCHERS:
        _load_builtin()
    if name not in _SEARCHERS:
        raise ConfigError(f"unknown search method {name!r}; valid: {', '.join(sorted(_SEARCHERS))}")
    return _SEARCHERS[name]


def searcher_summary(name: str) -> str:
    """The first line of the searcher's class docstring."""
    lines = (searcher_class(name).__doc__ or "").strip().splitlines()
    return lines[0].rstrip(".") if lines else ""
