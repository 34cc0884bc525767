"""The searcher contract shared by every DARTS-family method, and the registry of methods.

A searcher owns a supernet and its two optimizers (weights: SGD, alphas: Adam) and advances them
one step at a time. A new method is one new file that subclasses `Searcher` and registers itself.
A method with settings of its own subclasses `SearcherConfig` and names it in ``config_class``; a
method that needs supernet options (PC-DARTS's partial channels) states them in ``network_options``.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

import torch
import torch.nn.functional as F

from darts_backend.supernets import NB201SearchNetwork
from darts_backend.supernets.precision import fp32_mixing
from nasspace.options import POSITIVE, Bounds, check_numbers, check_value
from nasspace.space import Genotype
from darts_backend.errors import ConfigError

__all__ = [
    "Batch",
    "SearcherConfig",
    "Searcher",
    "register_searcher",
    "create_searcher",
    "list_searchers",
    "searcher_class",
    "parse_options",
    "autocast_dtype",
]

C = TypeVar("C", bound="SearcherConfig")

Batch = tuple[torch.Tensor, torch.Tensor]
"""``(images (B, 3, H, W) float, labels (B,) int64)``, already on the network's device."""


@dataclass(frozen=True)
class SearcherConfig:
    """Optimisation settings of a search (defaults: the usual NB201 DARTS setting).

    Attributes:
        w_lr: initial weight learning rate (SGD), cosine-annealed per epoch to `w_lr_min`.
        w_lr_min: final weight learning rate.
        w_momentum: SGD momentum.
        w_nesterov: Nesterov momentum.
        w_weight_decay: weight decay of the network weights.
        grad_clip: max global norm of the weight gradients (0 disables clipping).
        a_lr: alpha learning rate (Adam).
        a_betas: Adam betas for the alphas.
        a_weight_decay: alpha weight decay.
        epochs: length of the cosine schedule.
        mixed_precision: bfloat16 autocast of the forward pass on a CUDA device that supports it (ignored on
            CPU, where bf16 convolutions are slower than fp32 here); losses and gradients stay float32 and
            no gradient scaler is needed, so no host sync. `autocast_dtype` resolves it once per searcher.
        fp32_mixing: under autocast, weigh and sum the candidate ops' outputs in float32
            (`darts_backend.supernets.precision`: off, since it measured as buying nothing at 1.2x the CPU time).
    """

    w_lr: float = 0.025
    w_lr_min: float = 0.001
    w_momentum: float = 0.9
    w_nesterov: bool = True
    w_weight_decay: float = 5e-4
    grad_clip: float = 5.0
    a_lr: float = 3e-4
    a_betas: tuple[float, float] = (0.5, 0.999)
    a_weight_decay: float = 1e-3
    epochs: int = 50
    mixed_precision: bool = True
    fp32_mixing: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        if self.w_lr <= 0 or self.a_lr <= 0:
            raise ConfigError(f"learning rates must be positive, got w_lr={self.w_lr}, a_lr={self.a_lr}")
        check_numbers(self, {"w_lr": POSITIVE, "a_lr": POSITIVE})  # nan/inf too; subclasses' fields: finite, >= 0
        for beta in self.a_betas:
            check_value("a_betas", beta, Bounds(0.0, 1.0, high_open=True))

    @classmethod
    def coerce(cls: type[C], config: SearcherConfig | None) -> C:
        """`config` as this class: itself if it already is one, else its `SearcherConfig` fields with this
        class's defaults for the rest (None: all defaults)."""
        if isinstance(config, cls):
            return config
        if config is None:
            return cls()
        return cls(**{f.name: getattr(config, f.name) for f in fields(SearcherConfig)})


def autocast_dtype(device: torch.device, enabled: bool) -> torch.dtype | None:
    """The autocast dtype of a step on `device`: bfloat16 on a CUDA device that supports it when `enabled`,
    else None (full precision; always on CPU). Resolved once, so the step never queries the device."""
    if enabled and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def parse_options(cls: type[SearcherConfig], options: Iterable[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings as typed field values of config class `cls` (a later KEY wins).

    Values are read by the field's annotation: tuples of floats (comma-separated), floats (``none``
    for None), ints, bools (``1``/``true``/``yes`` or ``0``/``false``/``no``), else strings.

    Raises:
        ValueError: an option without ``=``, or a KEY that is not a field of `cls` (the message lists them).
    """
    types = {f.name: str(f.type) for f in fields(cls)}
    values: dict[str, Any] = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or key not in types:
            raise ConfigError(f"bad option {option!r}; use KEY=VALUE with KEY one of {', '.join(sorted(types))}")
        kind = types[key]
        try:
            if kind.startswith("tuple"):
                values[key] = tuple(float(v) for v in value.split(","))
            elif kind.startswith("float"):
                values[key] = None if value == "none" else float(value)
            elif kind.startswith("int"):
                values[key] = None if value == "none" else int(value)
            elif kind == "bool":
                if value.lower() not in ("1", "true", "yes", "0", "false", "no"):
                    raise ConfigError(value)
                values[key] = value.lower() in ("1", "true", "yes")
            else:
                values[key] = value
        except ValueError:
            raise ConfigError(f"bad option {option!r}: {key} takes a {kind} value") from None
    return values


class Searcher(ABC):
    """One DARTS-family search method driving a supernet.

    Args:
        network: the supernet, already on its device.
        config: optimisation settings.
    """

    name: ClassVar[str] = ""
    needs_valid: ClassVar[bool] = False  # True: `step` needs a validation batch (bi-level methods)
    config_class: ClassVar[type[SearcherConfig]] = SearcherConfig
    network_options: ClassVar[Mapping[str, Any]] = {}  # supernet keyword defaults of the method

    @classmethod
    def check_network_options(cls, *, partial_channels: int, edge_normalization: bool) -> None:
        """Raise a ValueError if the method cannot run on a supernet with these PC-DARTS options (default: any)."""

    def __init__(self, network: NB201SearchNetwork, config: SearcherConfig = SearcherConfig()):
        config = self.config_class.coerce(config)
        self.network = network
        self.config = config
        self.w_optimizer = torch.optim.SGD(
            network.weight_parameters(), lr=config.w_lr, momentum=config.w_momentum,
            nesterov=config.w_nesterov, weight_decay=config.w_weight_decay,
        )
        self.a_optimizer = torch.optim.Adam(
            network.arch_parameters(), lr=config.a_lr, betas=config.a_betas, weight_decay=config.a_weight_decay,
        )
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.w_optimizer, T_max=config.epochs, eta_min=config.w_lr_min,
        )
        self.epoch = 0
        self.autocast_dtype = autocast_dtype(network.alphas.device, config.mixed_precision)

    @abstractmethod
    def train_step(self, train_batch: Batch, valid_batch: Batch | None) -> dict[str, torch.Tensor]:
        """One search step; returns detached 0-dim metric tensors (no host sync)."""

    def plan(self, steps_per_epoch: int) -> None:
        """Learn the schedule length before the first step: training steps per epoch (the loader's length).

        The loop calls this at the start of every `fit`; methods whose schedules are counted in steps
        override it. The default does nothing.
        """

    def step(self, train_batch: Batch, valid_batch: Batch | None = None) -> dict[str, float]:
        """One search step; returns its metrics as floats (this syncs with the device)."""
        return {k: float(v) for k, v in self.train_step(train_batch, valid_batch).items()}

    def end_epoch(self) -> None:
        """Advance the per-epoch learning-rate schedule."""
        self.scheduler.step()
        self.epoch += 1

    def genotype(self) -> Genotype:
        """The genotype the current alphas derive."""
        return self.network.genotype()

    def alpha_probabilities(self) -> list[list[float]]:
        """``(edges, ops)`` softmax of the alphas, as nested lists."""
        return F.softmax(self.network.alphas.detach().float(), dim=-1).cpu().tolist()

    def edge_probabilities(self) -> list[float] | list[list[float]] | None:
        """The edge weights of edge normalization (``(6,)`` on NB201, ``(2, E)`` in the DARTS space) as
        nested lists, or None when the supernet has none."""
        edge_weights = getattr(self.network, "edge_weights", None)
        weights = edge_weights() if edge_weights is not None else None
        return None if weights is None else weights.detach().float().cpu().tolist()

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the search identically."""
        return {
            "network": self.network.state_dict(),
            "w_optimizer": self.w_optimizer.state_dict(),
            "a_optimizer": self.a_optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": self.epoch,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a `state_dict`."""
        self.network.load_state_dict(state["network"])
        self.w_optimizer.load_state_dict(state["w_optimizer"])
        self.a_optimizer.load_state_dict(state["a_optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])

    # helpers for subclasses -------------------------------------------------------------------

    def _autocast(self, x: torch.Tensor) -> contextlib.AbstractContextManager[Any]:
        """Autocast to `autocast_dtype` on `x`'s device (with the config's `fp32_mixing`), or a no-op when it
        is None."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        stack = contextlib.ExitStack()
        stack.enter_context(torch.autocast(device_type=x.device.type, dtype=self.autocast_dtype))
        stack.enter_context(fp32_mixing(self.config.fp32_mixing))
        return stack

    def _loss(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-entropy and accuracy of the supernet on `batch`: two 0-dim tensors."""
        x, y = batch
        with self._autocast(x):
            logits = self.network(x)
        loss = F.cross_entropy(logits.float(), y)
        acc = (logits.detach().argmax(dim=1) == y).float().mean()
        return loss, acc

    def _clip_weights(self) -> None:
        if self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.network.weight_parameters(), self.config.grad_clip, foreach=True)

    def _zero_grad(self) -> None:
        self.w_optimizer.zero_grad(set_to_none=True)
        self.a_optimizer.zero_grad(set_to_none=True)


_SEARCHERS: dict[str, type[Searcher]] = {}


def register_searcher(name: str) -> Callable[[type[Searcher]], type[Searcher]]:
    """Class decorator registering a `Searcher` subclass under `name`."""

    def wrap(cls: type[Searcher]) -> type[Searcher]:
        if name in _SEARCHERS:
            raise ConfigError(f"searcher {name!r} is already registered")
        cls.name = name
        _SEARCHERS[name] = cls
        return cls

    return wrap


def list_searchers() -> list[str]:
    """Registered method names, sorted."""
    return sorted(_SEARCHERS)


def searcher_class(name: str) -> type[Searcher]:
    """The class registered as `name` (ValueError listing the valid names otherwise)."""
    if name not in _SEARCHERS:
        raise ConfigError(f"unknown search method {name!r}; valid methods: {', '.join(list_searchers())}")
    return _SEARCHERS[name]


def create_searcher(name: str, network: NB201SearchNetwork, config: SearcherConfig = SearcherConfig()) -> Searcher:
    """Build the searcher registered as `name` around `network`."""
    return searcher_class(name)(network, config)

