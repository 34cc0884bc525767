"""The ICNN is convex in its input for any parameters, and its latent gradient touches only z."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from crlso.models.icnn import ICNN


def _scramble(model: ICNN, seed: int, scale: float) -> None:
    """Set every parameter (raw convex-path weights included) to arbitrary values."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=generator))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    scale=st.floats(0.1, 5.0),
    layers=st.integers(1, 4),
    activation=st.sampled_from(["softplus", "leaky_relu"]),
)
def test_convex_along_random_segments(seed: int, scale: float, layers: int, activation: str) -> None:
    torch.manual_seed(seed)
    model = ICNN(5, hidden=8, num_layers=layers, activation=activation).double()
    _scramble(model, seed, scale)
    generator = torch.Generator().manual_seed(seed + 1)
    x = 3 * torch.randn(64, 5, generator=generator, dtype=torch.float64)
    y = 3 * torch.randn(64, 5, generator=generator, dtype=torch.float64)
    lam = torch.rand(64, 1, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        mid = model(lam * x + (1 - lam) * y)
        chord = lam.squeeze(1) * model(x) + (1 - lam.squeeze(1)) * model(y)
    tolerance = 1e-9 * (1 + chord.abs())
    assert torch.all(mid <= chord + tolerance)


def test_convexity_survives_training_steps() -> None:
    """Gradient steps toward a non-convex target cannot break convexity (no caller-side clamp)."""
    torch.manual_seed(0)
    model = ICNN(2, hidden=16, num_layers=3)
    z = torch.randn(256, 2)
    target = -z.pow(2).sum(dim=1)  # concave: the optimizer pushes toward negative curvature
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(50):
        loss = (model(z) - target).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for layer in [*model.convex_path, model.out_convex]:
        assert torch.all(layer.weight >= 0)
    x, y = torch.randn(512, 2), torch.randn(512, 2)
    with torch.no_grad():
        assert torch.all(model(0.5 * x + 0.5 * y) <= 0.5 * model(x) + 0.5 * model(y) + 1e-5)


def test_grad_is_with_respect_to_z_only() -> None:
    model = ICNN(4, hidden=8)
    z = torch.randn(3, 4)
    g = model.grad(z)
    assert g.shape == (3, 4) and torch.isfinite(g).all()
    assert all(p.grad is None for p in model.parameters())
    assert not z.requires_grad
