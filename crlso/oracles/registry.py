"""The registry of oracles: name -> factory, each with a typed spec of its settings. It imports no oracle.

An oracle module registers its factory with `register_oracle` when imported. The built-in oracles are listed here
by module name (`BUILTIN_MODULES`) and imported on the first lookup; a user's oracle registers itself the same
way (`crlso.register_oracle`), or from a plain function of a genotype
(`crlso.oracles.function.register_function_oracle`).

A run names its oracle by a JSON entry, ``{"name": NAME, ...settings}`` (`RunConfig.oracle_spec`); the entry's spec
class checks the settings before any work (`parse_oracle`), and `pick_oracle` calls the factory with the run's
`OracleContext`. Nothing here reads a `RunConfig`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from nasspace import Genotype
from nasspace.oracle import Oracle
from nasspace.registry import Registry

from crlso.errors import ConfigError

__all__ = [
    "BUILTIN_MODULES",
    "OracleContext",
    "PickedOracle",
    "OracleSpec",
    "NoSettings",
    "OracleEntry",
    "register_oracle",
    "unregister_oracle",
    "list_oracles",
    "oracle_entry",
    "parse_oracle",
    "pick_oracle",
]

BUILTIN_MODULES = ("crlso.oracles.table", "crlso.oracles.training", "crlso.oracles.supernet")
"""The modules of the built-in oracles (``table``, ``train``, ``supernet``), imported on the first lookup."""


@dataclass(frozen=True)
class OracleContext:
    """What a run gives its oracle: the space and table it searches, the budget, the search metric, its folder.

    ``executor`` (a `crlso.execution.Executor`, or None: in this process) runs evaluations that take long;
    ``budget_seconds`` caps the oracle's total cost beside ``budget`` queries.
    """

    space: str
    dataset: str
    budget: int
    metric: str
    out: Path
    data_dir: str | None = None
    budget_seconds: float | None = None
    executor: Any = None


class PickedOracle(NamedTuple):
    """A run's oracle, with what the run needs beside it."""

    oracle: Oracle
    table: Any = None  # the table that reports after the search (None: no table)
    checked_table: Any = None  # the table the logged values must match (None when the values come from elsewhere)
    prefetch: Callable[[Sequence[Genotype]], None] | None = None  # evaluates a batch at once (training)
    info: Callable[[Genotype], dict[str, Any]] | None = None  # what a log line records beside value and cost


class OracleSpec(Protocol):
    """The typed settings of one oracle kind: parsed from a run config's entry, written back into it."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "OracleSpec": ...

    def to_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class NoSettings:
    """The spec of an oracle that takes no settings (the table, a user function)."""

    name: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "NoSettings":
        extra = sorted(set(data) - {"name"})
        if extra:
            raise ConfigError(f"oracle {data.get('name')!r} takes no settings; got {', '.join(extra)}")
        return cls(name=str(data.get("name", "")))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name}


Factory = Callable[[Any, OracleContext], "PickedOracle | Oracle"]


@dataclass(frozen=True)
class OracleEntry:
    """A registered oracle: its factory ``(spec, context) -> PickedOracle | Oracle``, spec class, summary, and the
    module that registered it (a comparison's worker processes import it: `crlso.experiments.compare`)."""

    name: str
    factory: Factory
    spec: type = NoSettings
    summary: str = ""
    module: str = ""


_ORACLES: Registry[OracleEntry] = Registry("oracle", BUILTIN_MODULES, error=ConfigError)


def register_oracle(name: str, *, spec: type = NoSettings, summary: str = "", module: str | None = None,
                    replace: bool = False) -> Callable[[Factory], Factory]:
    """Decorator adding ``factory(spec, context)`` as the oracle ``name``; ``spec`` parses its settings; ``module``
    (default: the factory's) is what a worker process imports to have it.

    Raises:
        ConfigError: ``name`` is taken by another factory (unless ``replace``).
    """

    def decorate(factory: Factory) -> Factory:
        entry = OracleEntry(name, factory, spec, summary, module or factory.__module__)
        _ORACLES.add(name, entry, same=None if replace else lambda old, new: _source(old.factory) is _source(new.factory))
        return factory

    return decorate


def _source(factory: Factory) -> Any:
    """What an oracle was registered from: a function oracle's function, else the factory itself."""
    return getattr(factory, "function", factory)


def unregister_oracle(name: str) -> None:
    """Remove the oracle ``name`` (a user's; for tests and notebooks)."""
    _ORACLES.remove(name)


def list_oracles() -> list[str]:
    """Names of the registered oracles, sorted."""
    return _ORACLES.names()


def oracle_entry(name: str) -> OracleEntry:
    """The oracle registered as ``name``.

    Raises:
        ConfigError: an unknown name; lists the registered ones.
    """
    return _ORACLES.get(name)


def parse_oracle(data: Mapping[str, Any], *, space: str | None = None) -> tuple[OracleEntry, Any]:
    """The entry and the parsed spec of a run config's oracle entry ``{"name": ..., ...settings}``.

    A spec with a ``check_space(space)`` method is also checked against the run's space.

    Raises:
        ConfigError: no or an unknown name, or a setting its spec refuses.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("name"), str):
        raise ConfigError(f"an oracle entry is a mapping with a 'name'; got {data!r}")
    entry = oracle_entry(data["name"])
    spec = entry.spec.from_json(data)
    if space is not None and callable(getattr(spec, "check_space", None)):
        spec.check_space(space)
    return entry, spec


def pick_oracle(data: Mapping[str, Any], context: OracleContext) -> PickedOracle:
    """The oracle of a run config's entry ``data``, made for ``context``.

    Raises:
        ConfigError: an unknown name or setting, or a budget the oracle cannot serve.
    """
    entry, spec = parse_oracle(data, space=context.space)
    made = entry.factory(spec, context)
    return made if isinstance(made, PickedOracle) else PickedOracle(made)

