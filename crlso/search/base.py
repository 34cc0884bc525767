"""The ask/tell contract every searcher follows, the searcher registry, and the one search loop.

A searcher never sees a benchmark table, nor even the oracle: the loop (`run_search`) asks it for
genotypes, has the oracle evaluate them, and tells it the values. Each searcher keeps what it was
told (`observed`, `seen`), which is exactly what the oracle has charged, so "already evaluated"
means ``str(g) in self.seen``.

Provenance: a searcher says where each proposal came from (`Searcher.mark`, `provenance_of`), e.g.
``init``, ``latent``, ``neighbour``; `provenance` reads it back for the run log. The default source
is the searcher's ``default_source`` (``random`` for random search).

Resuming: `run_search` takes the queries a killed run already logged; the seeded searcher is run
again from the start, its proposals are checked against the log and answered from it without new
oracle charges or log lines, and the search then continues. A deterministic searcher therefore
finishes with exactly the queries an uninterrupted run would have made.

Batches: with ``batch`` set, `run_search` asks for that many proposals per round (`Searcher.ask_batch`:
``ask`` repeated with the pending proposals counted as seen), hands the new ones to ``prefetch`` (a
training oracle evaluates them in parallel), then charges and tells them in the proposed order, so
the queries of a seed do not depend on which evaluation finished first. An oracle whose cost budget
(seconds) is spent ends the search cleanly after the last query it charged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import json
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from nasspace import Genotype
from nasspace.errors import BudgetExhausted
from nasspace.oracle import Oracle, Query
from nasspace.space import SearchSpace

from crlso.search.registry import list_searchers, register_searcher, searcher_class, searcher_summary
from crlso.errors import ConfigError, SearchError

__all__ = [
    "Searcher",
    "SearchDiverged",
    "SearchExhausted",
    "searcher_summary",
    "register_searcher",
    "create_searcher",
    "list_searchers",
    "searcher_config",
    "run_search",
    "sample_unseen",
    "sample_unseen_batch",
]


class SearchDiverged(SearchError):
    """A resumed search proposed something other than what its log recorded."""


class SearchExhausted(SearchError):
    """A searcher has no unseen genotype left to propose (the space, or the part it can reach, is used up).

    `run_search` ends the search cleanly on it, with the queries made so far.
    """


@dataclass(frozen=True)
class NoOptions:
    """The config of a searcher that takes no options (the default ``Config``)."""


class Searcher(ABC):
    """Base of every searcher: ``ask(n)`` proposes, ``tell(genotypes, values)`` feeds back.

    Args:
        space: the search space.
        seed: seeds the searcher's own ``numpy.random.Generator`` (and torch generators if any).
        config: the searcher's frozen config dataclass (``Config`` of the subclass).

    Values are the search metric, higher is better.
    """

    name: ClassVar[str]
    Config: ClassVar[type] = NoOptions
    default_source: ClassVar[str] = "random"

    def __init__(self, space: SearchSpace, *, seed: int, config: Any = None):
        self.space = space
        self.seed = seed
        self.config = config if config is not None else self.Config()
        self.rng = np.random.default_rng(seed)
        self.observed: list[tuple[Genotype, float]] = []
        self.seen: set[str] = set()
        self.provenance_of: dict[str, dict[str, Any]] = {}  # genotype string -> {"source": ..., ...}

    @abstractmethod
    def ask(self, n: int) -> list[Genotype]:
        """Between 1 and ``n`` distinct genotypes not evaluated before (``n >= 1``)."""

    def ask_batch(self, n: int) -> list[Genotype]:
        """``n`` distinct genotypes not evaluated before (fewer only when the searcher runs out).

        The default asks repeatedly, counting the proposals pending in this batch as seen (``seen``) but
        not observed, so a searcher that proposes one cell at a time (REA, local search) fills a batch
        without repeating itself. A searcher with a better batch rule overrides this.
        """
        chosen: list[Genotype] = []
        keys: set[str] = set()

        def take(proposals: Sequence[Genotype]) -> int:
            added = 0
            for genotype in proposals:
                key = str(genotype)
                if len(chosen) < n and key not in self.seen and key not in keys:
                    chosen.append(genotype)
                    keys.add(key)
                    added += 1
            return added

        take(self.ask(n))
        lent: set[str] = set()
        try:
            while len(chosen) < n:
                pending = keys - self.seen
                lent |= pending
                self.seen |= pending
                try:
                    if not take(self.ask(n - len(chosen))):
                        break
                except SearchExhausted:
                    break
        finally:
            self.seen -= lent
        return chosen

    def tell(self, genotypes: Sequence[Genotype], values: Sequence[float]) -> None:
        """Record the values of evaluated genotypes (in the order they were asked)."""
        for genotype, value in zip(genotypes, values, strict=True):
            key = str(genotype)
            if key not in self.seen:
                self.seen.add(key)
                self.observed.append((genotype, float(value)))

    def mark(self, genotypes: list[Genotype], source: str) -> list[Genotype]:
        """Record ``source`` as the provenance of ``genotypes`` (returned unchanged)."""
        for genotype in genotypes:
            self.provenance_of[str(genotype)] = {"source": source}
        return genotypes

    def provenance(self, genotype: Genotype) -> dict[str, Any]:
        """Where a proposal came from: ``{"source": name, ...}`` (extra keys are the searcher's own)."""
        return dict(self.provenance_of.get(str(genotype), {"source": self.default_source}))

    def best(self) -> tuple[Genotype, float] | None:
        """The best observed (genotype, value), earliest on ties."""
        return max(self.observed, key=lambda item: item[1], default=None)


def searcher_config(name: str, options: Mapping[str, Any] | None = None) -> Any:
    """The method's default config with ``options`` overlaid (values cast to the field types).

    Raises:
        ValueError: unknown method or option; lists the valid ones.
    """
    cls = searcher_class(name)
    config = cls.Config()
    if not options:
        return config
    fields = {f.name: f for f in dataclasses.fields(config)}
    updates = {}
    for key, value in options.items():
        if key not in fields:
            raise ConfigError(f"unknown option {key!r} for method {name!r}; valid: {', '.join(sorted(fields))}")
        default = getattr(config, key)
        updates[key] = _cast(value, default, key)
    return dataclasses.replace(config, **updates)


def _cast(value: Any, default: Any, key: str) -> Any:
    if dataclasses.is_dataclass(default):  # a nested config: a mapping, or its JSON text, overlays it
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except (json.JSONDecodeError, RecursionError):
                raise ConfigError(f"option {key}={value[:80]!r} is not a JSON object") from None
        if dataclasses.is_dataclass(value):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"option {key} takes a JSON object of {type(default).__name__} fields, got {value!r}")
        names = {f.name for f in dataclasses.fields(default)}
        unknown = sorted(set(value) - names)
        if unknown:
            raise ConfigError(f"unknown field(s) {', '.join(unknown)} in option {key}; valid: {', '.join(sorted(names))}")
        return dataclasses.replace(default, **value)
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    try:
        if isinstance(default, bool):
            if value.lower() not in ("true", "false", "1", "0"):
                raise ConfigError(value)
            return value.lower() in ("true", "1")
        return type(default)(value)
    except ValueError:
        raise ConfigError(f"option {key}={value!r} is not a valid {type(default).__name__}") from None


def create_searcher(name: str, space: SearchSpace, *, seed: int, options: Mapping[str, Any] | None = None) -> Searcher:
    """A searcher by registry name, its config overlaid with ``options``."""
    return searcher_class(name)(space, seed=seed, config=searcher_config(name, options))


def sample_unseen(space: SearchSpace, rng: np.random.Generator, seen: set[str], *, max_tries: int = 10_000) -> Genotype:
    """A uniform random genotype not in ``seen``: rejection sampling, then, when ``max_tries`` draws
    all hit ``seen`` and the space can be enumerated, a uniform pick among the unseen rest.

    Raises:
        SearchExhausted: every genotype of an enumerable space is in ``seen``, or none was found
            in ``max_tries`` draws of a space too large to enumerate.
    """
    for _ in range(max_tries):
        genotype = space.sample(rng)
        if str(genotype) not in seen:
            return genotype
    try:
        rest = [g for g in space.enumerate() if str(g) not in seen]
    except NotImplementedError:
        raise SearchExhausted(f"no unseen genotype after {max_tries} random draws") from None
    if not rest:
        raise SearchExhausted(f"every {space.name} genotype was already evaluated ({len(seen)})")
    return rest[int(rng.integers(len(rest)))]


def sample_unseen_batch(space: SearchSpace, rng: np.random.Generator, exclude: set[str], count: int) -> list[Genotype]:
    """``count`` distinct uniform random genotypes, none in ``exclude`` (which is left unchanged)."""
    pending = set(exclude)
    out = []
    for _ in range(count):
        genotype = sample_unseen(space, rng, pending)
        pending.add(str(genotype))
        out.append(genotype)
    return out


def _fresh(proposals: Sequence[Genotype], seen: set[str], limit: int) -> list[Genotype]:
    """The first ``limit`` distinct proposals not in ``seen``, in order: what a round will charge."""
    out: list[Genotype] = []
    keys: set[str] = set()
    for genotype in proposals:
        key = str(genotype)
        if len(out) < limit and key not in seen and key not in keys:
            out.append(genotype)
            keys.add(key)
    return out


# Rounds in a row that may bring nothing new before `run_search` gives up on a searcher.
STALL_LIMIT = 20


def run_search(
    searcher: Searcher,
    oracle: Oracle,
    *,
    budget: int,
    logged: Sequence[Query] = (),
    on_query: Callable[[Query], None] | None = None,
    progress: bool = True,
    desc: str | None = None,
    batch: int | None = None,
    prefetch: Callable[[Sequence[Genotype]], None] | None = None,
) -> list[Query]:
    """Drive ``searcher`` until ``budget`` distinct genotypes were evaluated (or the oracle's cost budget is spent).

    Args:
        searcher: a fresh searcher (same method, config and seed as the logged run, if any).
        oracle: answers the search metric; it must already hold ``logged`` (``oracle.replay``).
        budget: distinct genotypes to evaluate in total (logged ones included).
        logged: queries of an interrupted run, in order; they are replayed, not re-charged.
        on_query: called with each *new* charged query, right after the oracle answered.
        batch: proposals per round (`Searcher.ask_batch`); None asks for every remaining query at once
            and takes what the searcher returns (its own batch size).
        prefetch: called with each round's new genotypes, in order, before the oracle charges them one by one.

    Returns:
        All queries of the run, in order (``len <= budget``). Fewer than ``budget`` when the searcher
        ran out of genotypes (`SearchExhausted`, or ``STALL_LIMIT`` rounds in a row with nothing new):
        the search then ends cleanly, with a warning.

    Raises:
        SearchDiverged: the searcher's proposals disagree with ``logged``.
    """
    if budget < 0:
        raise ConfigError(f"budget must be >= 0, got {budget}")
    if batch is not None and batch < 1:
        raise ConfigError(f"batch must be >= 1, got {batch}")
    run: list[Query] = []
    stalls = 0
    spent = False
    from tqdm import tqdm  # here: `crlso --help` and `crlso lookup` import this module and never show a bar

    with tqdm(total=budget, desc=desc or searcher.name, disable=not progress, leave=False) as bar:
        while len(run) < budget and not spent:
            left = budget - len(run)
            try:
                proposals = searcher.ask(left) if batch is None else searcher.ask_batch(min(batch, left))
            except SearchExhausted as exc:
                warnings.warn(f"{searcher.name} ended after {len(run)} of {budget} queries: {exc}", stacklevel=2)
                break
            if prefetch is not None and not oracle.exhausted:
                fresh = _fresh(proposals, searcher.seen, left)
                new = fresh[max(0, len(logged) - len(run)):]  # the logged ones are replayed, not evaluated
                if new:
                    prefetch(new)
            told_g: list[Genotype] = []
            told_v: list[float] = []
            told_keys: set[str] = set()
            before = len(run)
            for genotype in proposals:
                key = str(genotype)
                if len(run) >= budget:
                    break
                if key in searcher.seen or key in told_keys:
                    continue  # a repeat is free: the searcher already knows its value
                if len(run) < len(logged):
                    expected = logged[len(run)]
                    if str(expected.genotype) != key:
                        raise SearchDiverged(
                            f"step {len(run) + 1}: the resumed search proposed {key}, the log has {expected.genotype}"
                        )
                    query = expected
                else:
                    try:
                        oracle.query(genotype)
                    except BudgetExhausted as exc:
                        warnings.warn(f"{searcher.name} ended after {len(run)} queries: {exc}", stacklevel=2)
                        spent = True
                        break
                    query = oracle.history[-1]
                    if on_query is not None:
                        on_query(query)
                run.append(query)
                told_keys.add(key)
                told_g.append(genotype)
                told_v.append(query.value)
                bar.update(1)
            searcher.tell(told_g, told_v)
            stalls = stalls + 1 if len(run) == before else 0
            if stalls >= STALL_LIMIT:
                warnings.warn(f"{searcher.name} ended after {len(run)} of {budget} queries: it proposed nothing new "
                              f"{STALL_LIMIT} times in a row", stacklevel=2)
                break
    return run
