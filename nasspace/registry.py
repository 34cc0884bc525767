"""One registry pattern for every package: name -> entry, whose built-in entries load on the first lookup.

A registry module creates a `Registry` and imports none of its entries (timm's ``_registry`` pattern); each entry's
module registers itself when imported, and the registry imports the built-in modules (``builtin``, by name) the first
time a name is missing or the names are listed. A user's entry registers the same way from the user's own code.
`crlso.search.registry` (searchers), `crlso.oracles.registry` (oracles) and `darts_backend.spaces.registry`
(supernet spaces) are such registries.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from nasspace.errors import OptionError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name.

    Args:
        kind: what an entry is, for messages (``search method``, ``oracle``).
        builtin: modules that register the built-in entries, imported on the first miss or listing.
        error: the exception an unknown name raises (the package's own ``ConfigError``).
        valid: the word before the list of names in that message (``valid``, ``valid spaces``).
        sort: list the names sorted (else in registration order).
    """

    def __init__(self, kind: str, builtin: Sequence[str] = (), *, error: type[Exception] = OptionError,
                 valid: str = "valid", sort: bool = True):
        self.kind, self.builtin, self.error, self.valid, self.sort = kind, tuple(builtin), error, valid, sort
        self._entries: dict[str, T] = {}

    def _load_builtin(self) -> None:
        for module in self.builtin:
            importlib.import_module(module)

    def add(self, name: str, entry: T, *, same: Callable[[T, T], bool] | None = None) -> T:
        """Register ``entry`` as ``name``. With ``same``, a name already taken by an entry that is not ``same`` as
        this one is an error (a re-import registers the same entry again); without it, the new entry replaces it.

        Raises:
            error: ``name`` is taken by another entry (with ``same``).
        """
        if same is not None and name in self._entries and not same(self._entries[name], entry):
            raise self.error(f"an {self.kind} named {name!r} is already registered" if self.kind[0] in "aeiou"
                             else f"a {self.kind} named {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def remove(self, name: str) -> None:
        """Forget ``name`` (a user's entry; for tests and notebooks)."""
        self._entries.pop(name, None)

    def names(self) -> list[str]:
        """The registered names, the built-in ones loaded."""
        self._load_builtin()
        return sorted(self._entries) if self.sort else list(self._entries)

    def get(self, name: str) -> T:
        """The entry registered as ``name``.

        Raises:
            error: an unknown name; lists the registered ones.
        """
        if name not in self._entries:
            self._load_builtin()
        if name not in self._entries:
            listed = sorted(self._entries) if self.sort else list(self._entries)
            raise self.error(f"unknown {self.kind} {name!r}; {self.valid}: {', '.join(listed)}")
        return self._entries[name]

    def values(self) -> list[T]:
        """The registered entries, the built-in ones loaded (in the order of `names`)."""
        return [self._entries[name] for name in self.names()]
