"""The input-convex neural network (ICNN): a predictor that is convex in its input by construction.

    h_1 = act(W_0 z + b_0)
    h_{k+1} = act(P_k h_k + W_k z + b_k)        k = 1 .. L-1
    f(z) = p^T h_L + w^T z + b

``act`` is convex and non-decreasing (softplus or LeakyReLU). The convex-path weights ``P_k`` and
``p`` are non-negative because they are *stored* as unconstrained parameters and *used* through
softplus (a parametrization inside `NonNegativeLinear`): no caller has to clamp anything, and no
optimizer step can break convexity. The input-skip weights ``W_k`` and ``w`` are free. A
non-negative combination of convex functions composed with a convex non-decreasing function is
convex, so ``f`` is convex in ``z`` for every value of the parameters.

In CR-LSO the ICNN models an *error* (1 - accuracy/100): its minimum is the best architecture,
and search steps go downhill.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from crlso.errors import ConfigError

__all__ = ["NonNegativeLinear", "ICNN", "MLPHead", "create_head", "HEADS"]


class NonNegativeLinear(nn.Module):
    """``x @ softplus(raw_weight).T``: a bias-free linear map whose weights are always > 0.

    Args:
        in_features: input width.
        out_features: output width.
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        # Start small: softplus(-3) ~ 0.05, so a deep convex path does not blow up at init.
        self.raw_weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-4.0, -2.0))

    @property
    def weight(self) -> Tensor:
        """``(out_features, in_features)`` the effective, non-negative weights."""
        return nn.functional.softplus(self.raw_weight)

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.weight.t()


_ACTIVATIONS = {"softplus": nn.Softplus, "leaky_relu": lambda: nn.LeakyReLU(0.1)}


def _check_sizes(num_layers: int, activation: str) -> None:
    """Raise ValueError for a head with no hidden layer or an unknown activation."""
    if num_layers < 1:
        raise ConfigError(f"num_layers must be >= 1, got {num_layers}")
    if activation not in _ACTIVATIONS:
        raise ConfigError(f"unknown activation {activation!r}; valid: {', '.join(_ACTIVATIONS)}")


class ICNN(nn.Module):
    """A fully input-convex network ``R^d -> R``.

    Args:
        in_dim: input (latent) width.
        hidden: width of each hidden layer.
        num_layers: hidden layers (>= 1).
        activation: ``"softplus"`` or ``"leaky_relu"`` (both convex and non-decreasing).
    """

    def __init__(self, in_dim: int, *, hidden: int = 64, num_layers: int = 2, activation: str = "softplus"):
        super().__init__()
        _check_sizes(num_layers, activation)
        self.first = nn.Linear(in_dim, hidden)
        self.convex_path = nn.ModuleList(NonNegativeLinear(hidden, hidden) for _ in range(num_layers - 1))
        self.skips = nn.ModuleList(nn.Linear(in_dim, hidden) for _ in range(num_layers - 1))
        self.out_convex = NonNegativeLinear(hidden, 1)
        self.out_skip = nn.Linear(in_dim, 1)
        self.act = _ACTIVATIONS[activation]()

    def forward(self, z: Tensor) -> Tensor:
        """``z (B, d)`` -> ``(B,)`` convex in each row of ``z``."""
        h = self.act(self.first(z))
        for convex, skip in zip(self.convex_path, self.skips):
            h = self.act(convex(h) + skip(z))
        return (self.out_convex(h) + self.out_skip(z)).squeeze(-1)

    def grad(self, z: Tensor) -> Tensor:
        """``(B, d)`` gradient of the output w.r.t. ``z`` only (parameters get no gradient)."""
        z = z.detach().requires_grad_(True)
        (gradient,) = torch.autograd.grad(self(z).sum(), z)
        return gradient


class MLPHead(nn.Module):
    """A plain MLP ``R^d -> R`` with the ICNN's interface: the *non-convex* twin used in ablations.

    Same widths and activation as `ICNN`, no sign constraint, so it can fit any shape; it tells what
    the convexity of the ICNN buys when it replaces the ICNN in the joint VAE fit.

    Args:
        in_dim: input (latent) width.
        hidden: width of each hidden layer.
        num_layers: hidden layers (>= 1).
        activation: ``"softplus"`` or ``"leaky_relu"``.
    """

    def __init__(self, in_dim: int, *, hidden: int = 64, num_layers: int = 2, activation: str = "softplus"):
        super().__init__()
        _check_sizes(num_layers, activation)
        layers: list[nn.Module] = []
        width = in_dim
        for _ in range(num_layers):
            layers += [nn.Linear(width, hidden), _ACTIVATIONS[activation]()]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, z: Tensor) -> Tensor:
        """``z (B, d)`` -> ``(B,)``."""
        return self.net(z).squeeze(-1)

    grad = ICNN.grad


HEADS = {"icnn": ICNN, "mlp": MLPHead}


def create_head(kind: str, in_dim: int, *, hidden: int, num_layers: int, activation: str) -> ICNN | MLPHead:
    """The latent error model by name: ``icnn`` (convex in z) or ``mlp`` (its non-convex twin).

    Raises:
        ValueError: unknown ``kind``; lists the valid ones.
    """
    if kind not in HEADS:
        raise ConfigError(f"unknown latent head {kind!r}; valid: {', '.join(HEADS)}")
    return HEADS[kind](in_dim, hidden=hidden, num_layers=num_layers, activation=activation)
