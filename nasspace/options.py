"""Range checks of the numeric options of frozen config dataclasses, run when a config is built.

Each config's ``__post_init__`` calls `check_numbers` with the bounds of its fields; every numeric
field it does not name must be finite and >= 0. A value of the wrong type, NaN, an infinity or a
value out of range raises one ``ValueError`` line naming the option, the value and what is allowed,
before any work starts. Zero is a value like any other: it never stands for "the default".

Example:
    @dataclass(frozen=True)
    class TrainConfig:
        epochs: int = 50
        lr: float = 0.1

        def __post_init__(self) -> None:
            check_numbers(self, {"epochs": AT_LEAST_ONE, "lr": POSITIVE})
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from nasspace.errors import OptionError

__all__ = ["Bounds", "POSITIVE", "NONNEGATIVE", "AT_LEAST_ONE", "FRACTION", "OPEN_FRACTION", "check_numbers", "check_value"]


@dataclass(frozen=True)
class Bounds:
    """An interval of allowed values (``None``: unbounded on that side)."""

    low: float | None = 0.0
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (self.high is not None and (value > self.high or (self.high_open and value == self.high)))

    def describe(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return " and ".join(parts) if parts else "any finite value"


POSITIVE = Bounds(0.0, low_open=True)
NONNEGATIVE = Bounds(0.0)
AT_LEAST_ONE = Bounds(1.0)
FRACTION = Bounds(0.0, 1.0)
OPEN_FRACTION = Bounds(0.0, 1.0, low_open=True, high_open=True)


def _kind(annotation: Any) -> tuple[str | None, bool]:
    """(``"int"``, ``"float"`` or None, whether None is allowed) of a field annotation."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    parts = {p.strip() for p in text.replace("Optional[", "").rstrip("]").split("|")}
    optional = "None" in parts
    parts.discard("None")
    if parts == {"int"}:
        return "int", optional
    if parts == {"float"}:
        return "float", optional
    return None, False


def check_value(name: str, value: Any, bounds: Bounds = NONNEGATIVE, *, integer: bool = False, optional: bool = False) -> None:
    """Raise one ``ValueError`` line unless ``value`` is a finite number within ``bounds`` (an integer if asked).

    Raises:
        ValueError: ``option NAME=VALUE ...; allowed: ...``.
    """
    kind = "an integer" if integer else "a finite number"
    allowed = f"allowed: {kind} {bounds.describe()}" + (" or null" if optional else "")
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral if integer else numbers.Real):
        raise OptionError(f"option {name}={value!r} is not {kind}; {allowed}")
    if not math.isfinite(float(value)):
        raise OptionError(f"option {name}={value!r} is not finite; {allowed}")
    if float(value) not in bounds:
        raise OptionError(f"option {name}={value!r} is out of range; {allowed}")


def check_numbers(config: Any, bounds: Mapping[str, Bounds] | None = None, *, default: Bounds = NONNEGATIVE) -> None:
    """Check every ``int`` / ``float`` field (optionally ``| None``) of a dataclass instance.

    Args:
        config: a dataclass instance.
        bounds: per field name; fields not named must lie in ``default``.

    Raises:
        ValueError: the first field that is of the wrong type, not finite or out of its bounds.
    """
    bounds = bounds or {}
    for item in dataclasses.fields(config):
        kind, optional = _kind(item.type)
        if kind is None:
            continue
        check_value(item.name, getattr(config, item.name), bounds.get(item.name, default),
                    integer=kind == "int", optional=optional)
