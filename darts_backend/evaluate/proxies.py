"""Zero-cost proxies: scores of an untrained network that predict how well it will train.

Every proxy is ``compute(network, inputs) -> float``, larger meaning better; `network` is a freshly
initialised network in train mode (BatchNorm uses batch statistics) and is left with gradients and
BN buffers changed, so give each proxy its own copy. The inputs hold images and *random* targets
(`ProxyInputs`): no proxy can read a label of the images.

Definitions (sums run over the weights of every ``Conv2d`` and ``Linear``; biases and BN left out):

* ``synflow`` (Tanaka et al. 2020, as scored by Abdelfattah et al. 2021): on a copy with BatchNorm
  removed, every parameter replaced by its absolute value and double precision, ``R = sum(f(1))``
  for an all-ones image; score ``sum |w * dR/dw|``. Independent of the images and of weight signs.
* ``jacov`` (Mellor et al. 2021, v1): ``J`` = gradient of ``sum(f(x))`` w.r.t. each image, rows
  ``(B, 3*H*W)``; with ``v`` the eigenvalues of ``corrcoef(J)`` and ``k = 1e-5``, score
  ``-sum(log(v + k) + 1 / (v + k))`` (at most ``-B``, reached when the rows are uncorrelated).
  NaN when a row of ``J`` is constant (the output does not depend on the image).
* ``snip`` (Lee et al. 2019): ``sum |w * dL/dw|``, ``L`` the mean cross-entropy on the batch.
* ``grad_norm``: sum over layers of the L2 norm of ``dL/dw``.
* ``fisher`` (Theis et al. 2018, Turner et al. 2020): for the output ``a`` of every conv/linear layer
  and its gradient ``g = dL/da``, per channel ``c``: ``0.5 * mean_n (sum_{h,w} a * g)^2``, summed.
* ``params``: all parameters, in millions. ``flops``: FLOPs of one image, in millions
  (`darts_backend.networks.count_flops`; ``naslib`` convention on nb201, ``macs`` on darts).

``L`` is the cross-entropy against `ProxyInputs.targets`, drawn uniformly at random from the seed:
at initialisation the outputs carry no information about the true classes, so a random target
plays the role the label plays in the published definitions without reading one.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from darts_backend.networks.counting import count_flops, count_parameters
from darts_backend.errors import ConfigError

__all__ = ["ProxyInputs", "Proxy", "PROXIES", "list_proxies", "get_proxy"]

JACOV_K = 1e-5


@dataclass(frozen=True)
class ProxyInputs:
    """What a proxy sees besides the network: never a label.

    Attributes:
        images: ``(B, 3, H, W)`` normalised float images.
        targets: ``(B,)`` int64 classes drawn at random (not the images' labels).
        flop_convention: ``count_flops`` convention for ``flops``.
    """

    images: torch.Tensor
    targets: torch.Tensor
    flop_convention: str = "naslib"


@dataclass(frozen=True)
class Proxy:
    """A registered proxy.

    Attributes:
        name: registry name.
        compute: ``(network, inputs) -> float``.
        uses_images: the score depends on the image batch (and the random targets).
        uses_weights: the score depends on the seeded initial weights.
    """

    name: str
    compute: Callable[[nn.Module, ProxyInputs], float]
    uses_images: bool
    uses_weights: bool


def _weighted_layers(network: nn.Module) -> list[nn.Module]:
    return [m for m in network.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _loss_backward(network: nn.Module, inputs: ProxyInputs) -> None:
    """Mean cross-entropy of `network` on the images against the random targets, backpropagated."""
    network.zero_grad(set_to_none=True)
    logits = network(inputs.images)
    F.cross_entropy(logits.float(), inputs.targets).backward()


def _strip_batchnorm(module: nn.Module) -> None:
    """Replace every BatchNorm under `module` by an identity, in place."""
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(module, name, nn.Identity())
        else:
            _strip_batchnorm(child)


def synflow(network: nn.Module, inputs: ProxyInputs) -> float:
    """``sum |w * dR/dw|`` with ``R = sum(f(ones))`` through ``|w|``, BN removed, float64."""
    net = copy.deepcopy(network)
    _strip_batchnorm(net)
    net = net.double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad(set_to_none=True)
    ones = torch.ones(1, *inputs.images.shape[1:], dtype=torch.float64, device=inputs.images.device)
    net(ones).sum().backward()
    total = torch.zeros((), dtype=torch.float64, device=inputs.images.device)
    for layer in _weighted_layers(net):
        if layer.weight.grad is not None:
            total = total + (layer.weight * layer.weight.grad).abs().sum()
    return float(total.detach())


def jacov(network: nn.Module, inputs: ProxyInputs) -> float:
    """``-sum(log(v + k) + 1/(v + k))`` over the eigenvalues ``v`` of the input-Jacobian correlation."""
    network.zero_grad(set_to_none=True)
    x = inputs.images.detach().clone().requires_grad_(True)
    network(x).sum().backward()
    if x.grad is None:  # no path from the images to the output
        return math.nan
    jacobian = x.grad.reshape(len(x), -1).double()  # (B, 3*H*W)
    if bool((jacobian.std(dim=1) == 0).any()):
        return math.nan
    eig = torch.linalg.eigvalsh(torch.corrcoef(jacobian)).clamp_min(0.0)
    return float(-(torch.log(eig + JACOV_K) + 1.0 / (eig + JACOV_K)).sum())


def snip(network: nn.Module, inputs: ProxyInputs) -> float:
    """``sum |w * dL/dw|``."""
    _loss_backward(network, inputs)
    with torch.no_grad():
        return float(sum((m.weight * m.weight.grad).abs().sum() for m in _weighted_layers(network)
                         if m.weight.grad is not None))


def grad_norm(network: nn.Module, inputs: ProxyInputs) -> float:
    """Sum over layers of ``||dL/dw||_2``."""
    _loss_backward(network, inputs)
    return float(sum(m.weight.grad.norm() for m in _weighted_layers(network) if m.weight.grad is not None))


def fisher(network: nn.Module, inputs: ProxyInputs) -> float:
    """Sum over conv/linear output channels of ``0.5 * mean_n (sum_{h,w} a * dL/da)^2``."""
    terms: list[torch.Tensor] = []

    def keep(module: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        if not out.requires_grad:
            return
        act = out.detach()

        def on_grad(grad: torch.Tensor) -> None:
            per_channel = (act * grad).sum(dim=tuple(range(2, act.dim()))) if act.dim() > 2 else act * grad
            terms.append(0.5 * per_channel.pow(2).mean(dim=0).sum())

        out.register_hook(on_grad)

    handles = [m.register_forward_hook(keep) for m in _weighted_layers(network)]
    try:
        _loss_backward(network, inputs)
    finally:
        for handle in handles:
            handle.remove()
    return float(sum(terms)) if terms else 0.0


def params(network: nn.Module, inputs: ProxyInputs) -> float:
    """All parameters, in millions."""
    return count_parameters(network)


def flops(network: nn.Module, inputs: ProxyInputs) -> float:
    """FLOPs of one image, in millions."""
    return count_flops(network, tuple(inputs.images.shape[1:]), convention=inputs.flop_convention)


PROXIES: dict[str, Proxy] = {
    p.name: p
    for p in (
        Proxy("synflow", synflow, uses_images=False, uses_weights=True),
        Proxy("jacov", jacov, uses_images=True, uses_weights=True),
        Proxy("snip", snip, uses_images=True, uses_weights=True),
        Proxy("grad_norm", grad_norm, uses_images=True, uses_weights=True),
        Proxy("fisher", fisher, uses_images=True, uses_weights=True),
        Proxy("params", params, uses_images=False, uses_weights=False),
        Proxy("flops", flops, uses_images=False, uses_weights=False),
    )
}


def list_proxies() -> list[str]:
    """Registered proxy names, in registry order."""
    return list(PROXIES)


def get_proxy(name: str) -> Proxy:
    """The proxy called `name`.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
    """
    if name not in PROXIES:
        raise ConfigError(f"unknown zero-cost proxy {name!r}; valid proxies: {', '.join(PROXIES)}")
    return PROXIES[name]
