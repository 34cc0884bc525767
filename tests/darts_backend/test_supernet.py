import pytest
import torch
import torch.nn.functional as F

from darts_backend.supernets import NB201SearchNetwork
from nasspace import get_space
from nasspace.nb201 import NB201_EDGES

SPACE = get_space("nb201")


def _reference_cell(cell, x, weights):
    """Plain per-edge mixed op: sum_o w_o * o(x), one ReLU-Conv-BN per (edge, conv op)."""
    C = cell.C
    nodes = [x]
    for dst in (1, 2, 3):
        total = torch.zeros_like(x)
        for k, (src, d) in enumerate(NB201_EDGES):
            if d != dst:
                continue
            inp, slot = nodes[src], cell.out_edges[src].index(k)
            for col, conv in ((cell.col_c1, cell.conv1[src]), (cell.col_c3, cell.conv3[src])):
                w = conv.weight[slot * C:(slot + 1) * C]
                y = F.batch_norm(F.conv2d(F.relu(inp), w, padding=conv.padding), None, None, training=True)
                total = total + weights[k, col] * y
            total = total + weights[k, cell.col_skip] * inp
            total = total + weights[k, cell.col_pool] * F.avg_pool2d(inp, 3, 1, 1, count_include_pad=False)
        nodes.append(total)
    return nodes[3]


def test_mixed_cell_matches_plain_reference(tiny_network):
    gen = torch.Generator().manual_seed(1)
    cell = tiny_network.layers[0]
    x = torch.randn(4, 4, 8, 8, generator=gen)
    weights = F.softmax(torch.randn(6, 5, generator=gen), dim=-1)
    torch.testing.assert_close(cell(x, weights), _reference_cell(cell, x, weights), atol=1e-5, rtol=1e-4)


def test_fixed_genotype_runs_only_its_ops(tiny_network):
    genotype = SPACE.parse("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|")
    mask = tiny_network.genotype_mask(genotype)
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    cell = tiny_network.layers[0]
    feats = torch.randn(4, 4, 8, 8)
    torch.testing.assert_close(cell(feats, mask.float(), mask), cell(feats, mask.float()))
    out = tiny_network(x, genotype=genotype)
    assert out.shape == (4, 10) and torch.isfinite(out).all()


def test_genotype_is_argmax_and_shapes(tiny_network):
    with torch.no_grad():
        tiny_network.alphas.zero_()
        tiny_network.alphas[:, 3] = 1.0
    assert tiny_network.genotype().ops == ("nor_conv_3x3",) * 6
    assert tiny_network(torch.randn(2, 3, 8, 8)).shape == (2, 10)
    assert len(tiny_network.arch_parameters()) == 1
    assert all(p is not tiny_network.alphas for p in tiny_network.weight_parameters())


def test_seeded_init_is_reproducible():
    a = NB201SearchNetwork(C=4, N=1, generator=torch.Generator().manual_seed(5))
    b = NB201SearchNetwork(C=4, N=1, generator=torch.Generator().manual_seed(5))
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name


def test_bad_arguments(tiny_network):
    with pytest.raises(ValueError, match="valid|distinct"):
        NB201SearchNetwork(C=4, N=1, ops=("none", "sep_conv_3x3"))
    small = NB201SearchNetwork(C=4, N=1, ops=("skip_connect", "nor_conv_3x3"))
    with pytest.raises(ValueError, match="candidates: skip_connect, nor_conv_3x3"):
        small.genotype_mask(SPACE.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"))


def test_mixed_cell_gradients_match_plain_reference(tiny_network):
    gen = torch.Generator().manual_seed(3)
    cell = tiny_network.layers[0]
    x = torch.randn(4, 4, 8, 8, generator=gen, requires_grad=True)
    weights = F.softmax(torch.randn(6, 5, generator=gen), dim=-1).requires_grad_()
    target = torch.randn(4, 4, 8, 8, generator=gen)
    ours = torch.autograd.grad((cell(x, weights) * target).sum(), (x, weights))
    ref = torch.autograd.grad((_reference_cell(cell, x, weights) * target).sum(), (x, weights))
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_fused_mix_gradcheck():
    from darts_backend.supernets.nb201 import _Mix

    gen = torch.Generator().manual_seed(4)

    def r(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.double, requires_grad=True)

    a, b, x, p = r(2, 3, 2, 3, 3), r(2, 3, 2, 3, 3), r(2, 2, 3, 3), r(2, 2, 3, 3)
    assert torch.autograd.gradcheck(_Mix.apply, (a, b, x, r(3), p, r(3)))
    assert torch.autograd.gradcheck(_Mix.apply, (None, b, None, None, p, r(3)))


def test_genotype_derivation_excludes_none_by_default(tiny_network) -> None:
    with torch.no_grad():
        tiny_network.alphas.zero_()
        tiny_network.alphas[:, tiny_network.ops.index("none")] = 5.0
        tiny_network.alphas[:, tiny_network.ops.index("nor_conv_3x3")] = 1.0
    assert set(tiny_network.genotype().ops) == {"nor_conv_3x3"}
    assert set(tiny_network.genotype(exclude=()).ops) == {"none"}
    with pytest.raises(ValueError, match="no candidate"):
        tiny_network.genotype(exclude=tuple(tiny_network.ops))


def test_edge_indices_are_buffers_that_follow_the_network_but_stay_out_of_checkpoints(tiny_network):
    cell = tiny_network.layers[0]
    buffers = dict(tiny_network.named_buffers())
    for src, edges in enumerate(cell.out_edges):
        index = cell.out_edge_index(src)
        assert index.dtype == torch.int64 and index.tolist() == edges
        assert any(b is index for b in buffers.values())  # moved by .to(device) with the weights
    assert not any("out_edge_index" in key for key in tiny_network.state_dict())
