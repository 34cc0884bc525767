"""The search-space contract shared by every space, and the registry of spaces.

A genotype is plain, frozen, hashable data (a frozen dataclass); its space object knows how to
parse, validate, sample, mutate, hash and convert it. ``str(genotype)`` is the canonical string and
``space.parse(str(genotype)) == genotype`` for every space.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

import numpy as np

from nasspace.errors import GenotypeError, OptionError
from nasspace.graph import ArchGraph

__all__ = [
    "FORMAT_VERSION",
    "Genotype",
    "SearchSpace",
    "as_rng",
    "register_space",
    "register_space_instance",
    "unregister_space",
    "get_space",
    "list_spaces",
    "genotype_from_json",
    "parse_genotype",
]

FORMAT_VERSION = 1




def as_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from a seed, an existing generator (returned as is), or None (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


class Genotype(ABC):
    """Base of every genotype: frozen data whose ``str()`` is the canonical string."""

    space_name: ClassVar[str]

    @abstractmethod
    def __str__(self) -> str: ...

    @abstractmethod
    def fields(self) -> dict[str, Any]:
        """The space's structured fields, JSON-serializable (lists, not tuples, are fine)."""

    def to_json(self) -> dict[str, Any]:
        """``{"space", "format_version", "string", **fields}``; the inverse is `genotype_from_json`."""
        return {"space": self.space_name, "format_version": FORMAT_VERSION, "string": str(self), **self.fields()}

    @property
    def space(self) -> "SearchSpace":
        return get_space(self.space_name)


G = TypeVar("G", bound=Genotype)


class SearchSpace(ABC):
    """What a search space knows about its genotypes.

    Subclasses set ``name`` and ``ops`` and implement the abstract methods; ``enumerate`` is only
    for spaces small enough to list.
    """

    name: ClassVar[str]
    ops: ClassVar[tuple[str, ...]]

    # -- text and JSON -------------------------------------------------------------------------
    @abstractmethod
    def parse(self, text: str) -> Genotype:
        """The genotype whose canonical string (or an accepted alternative spelling) is ``text``.

        Raises:
            GenotypeError: naming the bad token or position and the valid choices.
        """

    @abstractmethod
    def from_fields(self, fields: Mapping[str, Any]) -> Genotype:
        """Build a genotype from the structured fields of its JSON form (raises GenotypeError)."""

    def from_json(self, data: Mapping[str, Any] | str) -> Genotype:
        """Inverse of ``Genotype.to_json``; trusts the structured fields, checks ``string`` agrees."""
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except (json.JSONDecodeError, RecursionError) as exc:
                raise GenotypeError(f"genotype JSON is not valid JSON: {exc}") from None
        if not isinstance(data, Mapping):
            raise GenotypeError(f"genotype JSON must be an object, got {type(data).__name__}")
        space = data.get("space", self.name)
        if space != self.name:
            raise GenotypeError(f"genotype JSON is for space {space!r}, expected {self.name!r}")
        version = data.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise GenotypeError(f"unsupported format_version {version!r}; this version reads {FORMAT_VERSION}")
        structured = {k: v for k, v in data.items() if k not in ("space", "format_version", "string")}
        if structured:
            genotype = self.from_fields(structured)
            if "string" in data and data["string"] != str(genotype):
                raise GenotypeError(
                    f"genotype JSON 'string' {data['string']!r} disagrees with its fields, which give {str(genotype)!r}"
                )
            return genotype
        if "string" not in data:
            raise GenotypeError("genotype JSON has neither 'string' nor structured fields")
        if not isinstance(data["string"], str):
            raise GenotypeError(f"genotype JSON 'string' must be a string, got {type(data['string']).__name__}")
        return self.parse(data["string"])

    # -- structure ------------------------------------------------------------------------------
    @abstractmethod
    def to_graph(self, genotype: Genotype) -> ArchGraph:
        """The ops-on-nodes DAG of ``genotype``."""

    @abstractmethod
    def canonical_hash(self, genotype: Genotype) -> str:
        """A hex string equal for isomorphic (functionally identical) cells."""

    # -- sampling and neighbourhoods ------------------------------------------------------------
    @abstractmethod
    def sample(self, rng: int | np.random.Generator | None = None) -> Genotype:
        """A uniformly random valid genotype (under the space's own sampling law)."""

    @abstractmethod
    def neighbors(self, genotype: Genotype) -> list[Genotype]:
        """Every genotype one elementary edit away, in a deterministic order."""

    def mutate(self, genotype: Genotype, rng: int | np.random.Generator | None = None) -> Genotype:
        """One uniformly chosen neighbour of ``genotype``."""
        options = self.neighbors(genotype)
        if not options:
            raise GenotypeError(f"{genotype} has no neighbours in space {self.name!r}")
        return options[int(as_rng(rng).integers(len(options)))]

    def enumerate(self) -> Iterator[Genotype]:
        """Every genotype of the space (only small spaces support this)."""
        raise NotImplementedError(f"space {self.name!r} is too large to enumerate")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


_REGISTRY: dict[str, Callable[[], SearchSpace]] = {}
_INSTANCES: dict[str, SearchSpace] = {}


def register_space(name: str) -> Callable[[type[SearchSpace]], type[SearchSpace]]:
    """Class decorator adding a space to the registry under ``name``."""

    def decorate(cls: type[SearchSpace]) -> type[SearchSpace]:
        _REGISTRY[name] = cls
        return cls

    return decorate


def register_space_instance(space: SearchSpace, *, replace: bool = False) -> SearchSpace:
    """Register a space object (e.g. a `nasspace.choice.ChoiceSpace` built from a file) under ``space.name``.

    Raises:
        ValueError: the name is taken (unless ``replace``).
    """
    if space.name in _REGISTRY and not replace:
        raise OptionError(f"a search space named {space.name!r} is already registered")
    _REGISTRY[space.name] = lambda: space
    _INSTANCES[space.name] = space
    return space


def unregister_space(name: str) -> None:
    """Remove a space from the registry (no error when it is absent)."""
    _REGISTRY.pop(name, None)
    _INSTANCES.pop(name, None)


def list_spaces() -> list[str]:
    """Names of the registered search spaces (the built-in ones register when `nasspace` is imported)."""
    return sorted(_REGISTRY)


def get_space(name: str) -> SearchSpace:
    """The (shared) space object registered under ``name``.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    if name not in _REGISTRY:
        raise OptionError(f"unknown search space {name!r}; valid spaces: {', '.join(sorted(_REGISTRY))}")
    if name not in _INSTANCES:
        _INSTANCES[name] = _REGISTRY[name]()
    return _INSTANCES[name]


def genotype_from_json(data: Mapping[str, Any] | str) -> Genotype:
    """A genotype of any space from its JSON form (the ``space`` field picks the space)."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise GenotypeError(f"genotype JSON is not valid JSON: {exc}") from None
    if not isinstance(data, Mapping) or "space" not in data:
        raise GenotypeError("genotype JSON must be an object with a 'space' field")
    try:
        space = get_space(str(data["space"]))
    except ValueError as exc:
        raise GenotypeError(str(exc)) from None
    return space.from_json(data)


def parse_genotype(text: str, space: str) -> Genotype:
    """``get_space(space).parse(text)``, with an unknown space reported as a GenotypeError."""
    try:
        return get_space(space).parse(text)
    except ValueError as exc:
        if isinstance(exc, GenotypeError):
            raise
        raise GenotypeError(str(exc)) from None

