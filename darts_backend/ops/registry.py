"""The op registry: one map from a `nasspace` op name to a module factory, and weight initialisation.

Every factory has the signature ``(C_in, C_out, stride, affine) -> nn.Module``. Each space registers
its ops in its own module of this package (`darts_backend.ops.nb201`, `darts_backend.ops.darts`);
importing `darts_backend.ops` registers them all.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from darts_backend.errors import ConfigError

__all__ = ["OpFactory", "register_op", "list_ops", "create_op", "reset_weights_"]

OpFactory = Callable[[int, int, int, bool], nn.Module]
_OPS: dict[str, OpFactory] = {}


def register_op(name: str) -> Callable[[OpFactory], OpFactory]:
    """Decorator registering `factory` under `name` (a `nasspace` op name)."""

    def wrap(factory: OpFactory) -> OpFactory:
        if name in _OPS:
            raise ConfigError(f"op {name!r} is already registered")
        _OPS[name] = factory
        return factory

    return wrap


def list_ops() -> list[str]:
    """Names of all registered ops, sorted."""
    return sorted(_OPS)


def create_op(name: str, C_in: int, C_out: int, stride: int = 1, affine: bool = True) -> nn.Module:
    """Build op `name`.

    Raises:
        ValueError: unknown op name (the message lists the valid ones) or bad stride/channels.
    """
    if name not in _OPS:
        raise ConfigError(f"unknown op {name!r}; valid ops: {', '.join(list_ops())}")
    if stride not in (1, 2):
        raise ConfigError(f"stride must be 1 or 2, got {stride}")
    if C_in < 1 or C_out < 1:
        raise ConfigError(f"channel counts must be positive, got C_in={C_in}, C_out={C_out}")
    return _OPS[name](C_in, C_out, stride, affine)


@torch.no_grad()
def reset_weights_(root: nn.Module, generator: torch.Generator | None = None) -> None:
    """Kaiming-uniform conv and linear weights (zero biases) and fresh BatchNorms under ``root``."""
    for module in root.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_uniform_(module.weight, a=5 ** 0.5, generator=generator)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.BatchNorm2d):
            module.reset_parameters()
