"""Zero-cost proxies: hand-worked values on tiny networks, invariances, determinism."""

import math

import pytest
import torch
from torch import nn

from darts_backend.evaluate import ProxyInputs, ZeroCostConfig, ZeroCostScorer, build_network, get_proxy, list_proxies
from darts_backend.evaluate.proxies import JACOV_K, fisher, grad_norm, jacov, snip, synflow
from darts_backend.networks import count_flops
from nasspace import get_space

NB201 = get_space("nb201")
CELL = NB201.parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|")
EMPTY = NB201.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
TINY = dict(space="nb201", data="synthetic", batch_size=6, channels=4, cells=1, synthetic_size=8)


def _inputs(images, targets=None):
    targets = torch.zeros(len(images), dtype=torch.int64) if targets is None else torch.as_tensor(targets)
    return ProxyInputs(images=images, targets=targets)


def _linear(weight):
    layer = nn.Linear(len(weight[0]), len(weight), bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight, dtype=torch.float32))
    return layer


def _scorer(**overrides):
    config = ZeroCostConfig(**{**TINY, **overrides})
    from darts_backend.evaluate import load_proxy_images

    return ZeroCostScorer(config, load_proxy_images(config))


def test_registry_lists_the_seven_proxies_and_rejects_unknown_names():
    assert list_proxies() == ["synflow", "jacov", "snip", "grad_norm", "fisher", "params", "flops"]
    with pytest.raises(ValueError, match="valid proxies: synflow"):
        get_proxy("zen")


def test_synflow_hand_worked_two_layer_network():
    # R = sum_i |w2_i| * sum_j |w1_ij| = 2 * 3.5 + 1 * 4 = 11; each layer's |w * dR/dw| sums to R
    # (synaptic flow is conserved layer by layer), so the score is 2 R = 22.
    net = nn.Sequential(_linear([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]]), nn.ReLU(), _linear([[2.0, -1.0]]))
    assert synflow(net, _inputs(torch.randn(4, 3))) == pytest.approx(22.0)


def test_synflow_ignores_the_batch_and_weight_signs_and_leaves_the_network_alone():
    config = ZeroCostConfig(**TINY)
    net = build_network(config, CELL)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    a = synflow(net, _inputs(torch.randn(6, 3, 8, 8, generator=torch.Generator().manual_seed(1))))
    b = synflow(net, _inputs(torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(2)) * 5))
    assert a > 0 and a == pytest.approx(b, rel=1e-12)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    with torch.no_grad():
        for p in net.parameters():
            p.neg_()
    assert synflow(net, _inputs(torch.randn(6, 3, 8, 8))) == pytest.approx(a, rel=1e-12)


def test_jacov_hand_worked_extremes():
    k = JACOV_K
    # f(x) = sum(x^2) / 2 has Jacobian rows x: three zero-mean, mutually orthogonal rows -> corr = I.
    square = type("Square", (nn.Module,), {"forward": lambda self, x: (x * x).sum(1, keepdim=True) / 2})()
    rows = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0]])
    assert jacov(square, _inputs(rows)) == pytest.approx(-3 * (math.log(1 + k) + 1 / (1 + k)))
    # A linear map has the same Jacobian row for every image: corr = all ones, eigenvalues (B, 0, ..., 0).
    b = 4
    linear = _linear([[1.0, 2.0, -1.0, 0.5], [0.0, 1.0, 1.0, 3.0]])
    expected = -(math.log(b + k) + 1 / (b + k)) - (b - 1) * (math.log(k) + 1 / k)
    assert jacov(linear, _inputs(torch.randn(b, 4))) == pytest.approx(expected, rel=1e-6)


def test_jacov_is_nan_when_the_output_ignores_the_images():
    net = build_network(ZeroCostConfig(**TINY), EMPTY)
    assert math.isnan(jacov(net, _inputs(torch.randn(6, 3, 8, 8))))


def test_snip_grad_norm_fisher_hand_worked_on_one_linear_layer():
    # W = I, x = (3, 4), target 0: p = softmax(3, 4) = (1 - s, s) with s = sigmoid(1);
    # dL/dlogits = p - e_0 = (-s, s); dL/dW = outer(dL/dlogits, x).
    s = 1 / (1 + math.exp(-1))
    x = torch.tensor([[3.0, 4.0]])
    inputs = _inputs(x, [0])
    assert snip(_linear([[1.0, 0.0], [0.0, 1.0]]), inputs) == pytest.approx(7 * s, rel=1e-5)  # |1*(-s)*3| + |1*s*4|
    assert grad_norm(_linear([[1.0, 0.0], [0.0, 1.0]]), inputs) == pytest.approx(s * math.sqrt(2) * 5, rel=1e-5)
    # fisher: activations a = (3, 4), gradients (-s, s): 0.5 * ((3s)^2 + (4s)^2) = 12.5 s^2
    assert fisher(_linear([[1.0, 0.0], [0.0, 1.0]]), inputs) == pytest.approx(12.5 * s * s, rel=1e-5)
    # W = 0: uniform p, snip vanishes, the gradient norm is |p - e_y| * |x| = sqrt(1/2) * 5 for any target.
    assert snip(_linear([[0.0, 0.0], [0.0, 0.0]]), inputs) == 0.0
    for target in (0, 1):
        assert grad_norm(_linear([[0.0, 0.0], [0.0, 0.0]]), _inputs(x, [target])) == pytest.approx(math.sqrt(0.5) * 5)


def test_params_and_flops_are_the_networks_counts():
    scorer = _scorer()
    net = build_network(scorer.config, CELL)
    assert scorer.score(CELL, "params") == pytest.approx(sum(p.numel() for p in net.parameters()) / 1e6)
    assert scorer.score(CELL, "flops") == pytest.approx(count_flops(net, (3, 8, 8), convention="naslib"))
    assert scorer.score(EMPTY, "params") < scorer.score(CELL, "params")


def test_scores_are_deterministic_and_order_free():
    scorer = _scorer()
    first = {p: scorer.score(CELL, p) for p in list_proxies()}
    for p in reversed(list_proxies()):
        assert scorer.score(CELL, p) == first[p], p
    assert all(math.isfinite(v) for v in first.values())
    other_seed = _scorer(seed=1)
    assert other_seed.score(CELL, "synflow") != first["synflow"]
    assert other_seed.score(CELL, "params") == first["params"]


def test_settings_key_only_what_a_proxy_depends_on():
    scorer = _scorer()
    assert "images_digest" in scorer.settings("jacov") and "seed" in scorer.settings("jacov")
    assert "images_digest" not in scorer.settings("synflow") and "seed" in scorer.settings("synflow")
    assert "seed" not in scorer.settings("params")
    assert _scorer(seed=3).settings("params") == scorer.settings("params")
    assert _scorer(seed=3).settings("snip") != scorer.settings("snip")


def test_darts_space_cells_score_finite():
    genotype = get_space("darts").sample(0)
    scorer = _scorer(space="darts", cells=3, batch_size=4)
    values = {p: scorer.score(genotype, p) for p in list_proxies()}
    assert all(math.isfinite(v) for v in values.values()), values
    with pytest.raises(ValueError, match="cannot be scored in the darts space"):
        scorer.score(CELL, "params")


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="valid spaces: nb201, darts"):
        ZeroCostConfig(space="nb101")
    with pytest.raises(ValueError, match="batch_size must be >= 2"):
        ZeroCostConfig(batch_size=1)
