"""The registry of searchers: name -> `Searcher` class. It imports no searcher when it is imported.

A searcher module registers its class with `register_searcher` when imported. The built-in searchers are listed
here by module name (`BUILTIN_MODULES`) and imported on the first lookup, so that ``import crlso.search`` (and
``crlso --help``, ``crlso lookup``) loads no torch; a user's searcher registers itself the same way
(`crlso.register_searcher`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from nasspace.registry import Registry

from crlso.errors import ConfigError

if TYPE_CHECKING:
    from crlso.search.base import Searcher

__all__ = ["BUILTIN_MODULES", "register_searcher", "unregister_searcher", "list_searchers", "searcher_class",
           "searcher_summary"]

BUILTIN_MODULES = tuple(f"crlso.search.{name}" for name in ("random", "rea", "local", "crlso", "crlso_paper", "latent_bo",
                                                            "hybrid"))
"""The modules of the built-in searchers, imported (and so registered) on the first lookup."""

_SEARCHERS: Registry[type["Searcher"]] = Registry("search method", BUILTIN_MODULES, error=ConfigError)


def register_searcher(name: str) -> Callable[[type["Searcher"]], type["Searcher"]]:
    """Class decorator adding a searcher under ``name``."""

    def decorate(cls: type["Searcher"]) -> type["Searcher"]:
        cls.name = name
        _SEARCHERS.add(name, cls)
        return cls

    return decorate


def unregister_searcher(name: str) -> None:
    """Remove the searcher ``name`` (a user's; for tests and notebooks)."""
    _SEARCHERS.remove(name)


def list_searchers() -> list[str]:
    """Names of the registered searchers, sorted."""
    return _SEARCHERS.names()


def searcher_class(name: str) -> type["Searcher"]:
    """The class registered under ``name``.

    Raises:
        ConfigError: an unknown name; lists the valid ones.
    """
    return _SEARCHERS.get(name)


def searcher_summary(name: str) -> str:
    """The first line of the searcher's class docstring."""
    lines = (searcher_class(name).__doc__ or "").strip().splitlines()
    return lines[0].rstrip(".") if lines else ""
