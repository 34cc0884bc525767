"""PC-DARTS's supernet options: partial channel connections and edge normalization, on both spaces."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from darts_backend.supernets import DartsSearchNetwork, NB201SearchNetwork
from darts_backend.supernets.nb201 import NB201_NODE_EDGES
from darts_backend.supernets.partial import channel_shuffle, merge_channels, segment_softmax
from nasspace import get_space
from nasspace.nb201 import NB201_EDGES


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _nb201(**kw) -> NB201SearchNetwork:
    return NB201SearchNetwork(C=8, N=1, generator=_gen(), **kw)


def _darts(**kw) -> DartsSearchNetwork:
    return DartsSearchNetwork(C=8, num_cells=3, generator=_gen(), **kw)


@pytest.mark.parametrize("build", [_nb201, _darts])
def test_options_off_give_the_plain_supernet(build) -> None:
    plain, off = build(), build(partial_channels=1, edge_normalization=False)
    a, b = plain.state_dict(), off.state_dict()
    assert a.keys() == b.keys() and "betas" not in a
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    x = torch.randn(4, 3, 8, 8, generator=_gen(1))
    torch.testing.assert_close(off(x), plain(x), rtol=0, atol=0)
    assert off.arch_parameters() == [off.alphas]


def _reference_pc_cell(cell, x, weights, edge_weights):
    """Edge by edge, the PC-DARTS definition: ops on the first C/K channels, the rest concatenated, a
    K-group shuffle, then the node sums its edges weighted by ``edge_weights``."""
    c_op, k = cell.C_op, cell.k
    nodes = [x]
    for dst in (1, 2, 3):
        total = torch.zeros_like(x)
        for e, (src, d) in enumerate(NB201_EDGES):
            if d != dst:
                continue
            inp, slot = nodes[src][:, :c_op], cell.out_edges[src].index(e)
            mixed = weights[e, cell.col_skip] * inp
            mixed = mixed + weights[e, cell.col_pool] * F.avg_pool2d(inp, 3, 1, 1, count_include_pad=False)
            for col, conv in ((cell.col_c1, cell.conv1[src]), (cell.col_c3, cell.conv3[src])):
                w = conv.weight[slot * c_op:(slot + 1) * c_op]
                y = F.batch_norm(F.conv2d(F.relu(inp), w, padding=conv.padding), None, None, training=True)
                mixed = mixed + weights[e, col] * y
            merged = torch.cat([mixed, nodes[src][:, c_op:]], dim=1)
            b, c, h, wd = merged.shape
            merged = merged.view(b, k, c // k, h, wd).transpose(1, 2).reshape(b, c, h, wd)
            total = total + edge_weights[e] * merged
        nodes.append(total)
    return nodes[3]


def test_nb201_partial_cell_matches_the_edge_by_edge_definition() -> None:
    net = _nb201(partial_channels=4, edge_normalization=True)
    cell = net.layers[0]
    g = _gen(2)
    x = torch.randn(4, 8, 8, 8, generator=g)
    weights = F.softmax(torch.randn(6, 5, generator=g), dim=-1)
    edge_weights = segment_softmax(torch.randn(6, generator=g), NB201_NODE_EDGES)
    expected = _reference_pc_cell(cell, x, weights, edge_weights)
    torch.testing.assert_close(cell(x, weights, None, edge_weights), expected, atol=1e-5, rtol=1e-4)


def test_edge_weights_are_a_softmax_per_node() -> None:
    net = _nb201(edge_normalization=True)
    with torch.no_grad():
        net.betas.copy_(torch.tensor([5.0, 0.0, 1.0, 0.0, 1.0, 2.0]))
    w = net.edge_weights()
    assert NB201_NODE_EDGES == ((0, 1), (1, 3), (3, 6))
    torch.testing.assert_close(w[0], torch.tensor(1.0))  # node 1 has one incoming edge
    torch.testing.assert_close(w[1:3], torch.softmax(torch.tensor([0.0, 1.0]), 0))
    torch.testing.assert_close(w[3:], torch.softmax(torch.tensor([0.0, 1.0, 2.0]), 0))


def test_channel_shuffle_and_merge_place_the_bypass_unchanged() -> None:
    x = torch.arange(8.0).view(1, 8, 1, 1)
    assert channel_shuffle(x, 4).flatten().tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    op_out, bypass = torch.full((1, 2, 4, 4), -1.0), torch.randn(1, 6, 8, 8, generator=_gen(3))
    merged = merge_channels(op_out, bypass, 4)  # a stride-2 edge: the bypass is max-pooled 2x2
    assert merged.shape == (1, 8, 4, 4)
    unshuffled = channel_shuffle(merged, 2)  # the inverse of a 4-group shuffle of 8 channels
    torch.testing.assert_close(unshuffled[:, :2], op_out)
    torch.testing.assert_close(unshuffled[:, 2:], F.max_pool2d(bypass, 2, 2))


def _record_op_inputs(modules) -> list[tuple[int, int]]:
    seen: list[tuple[int, int]] = []
    for m in modules:
        m.register_forward_pre_hook(lambda mod, args, seen=seen: seen.append((id(mod), args[0].shape[1])))
    return seen


def test_nb201_partial_path_keeps_shapes_and_feeds_the_ops_a_quarter_of_the_channels() -> None:
    net = _nb201(partial_channels=4)
    cells = [cell for cell in net.layers if hasattr(cell, "conv1")]
    expected = {id(c): cell.C // 4 for cell in cells for c in (*cell.conv1, *cell.conv3)}  # C, 2C, 4C stages
    seen = _record_op_inputs([c for cell in cells for c in (*cell.conv1, *cell.conv3)])
    x = torch.randn(4, 3, 8, 8, generator=_gen(4))
    assert net(x).shape == (4, 10)
    assert len(seen) == len(expected) and all(c == expected[i] for i, c in seen)
    assert sorted({c for _, c in seen}) == [2, 4, 8]
    cell = net.layers[0]
    assert cell(torch.randn(2, 8, 8, 8), F.softmax(net.alphas, -1)).shape == (2, 8, 8, 8)


def test_darts_partial_path_keeps_shapes_and_feeds_the_ops_a_quarter_of_the_channels() -> None:
    net = _darts(partial_channels=4, edge_normalization=True)
    seen = _record_op_inputs([m for cell in net.cells for m in cell.edge_ops.values()])
    expected = {id(m): cell.C // 4 for cell in net.cells for m in cell.edge_ops.values()}
    x = torch.randn(2, 3, 8, 8, generator=_gen(5))
    assert net(x).shape == (2, 10)
    assert len(seen) == len(expected) and all(c == expected[i] for i, c in seen)
    plain = _darts()
    s0 = s1 = plain.stem(x)
    for c, (cell, pc_cell) in enumerate(zip(plain.cells, net.cells)):  # same cell output shapes, reductions included
        w = plain.pair_weights().reshape(2, -1)[plain.group_of[c]]
        out, pc_out = cell(s0, s1, w), pc_cell(s0, s1, w, edge_weights=net.edge_weights()[net.group_of[c]])
        assert out.shape == pc_out.shape
        s0, s1 = s1, out


@pytest.mark.parametrize("build", [_nb201, _darts])
def test_betas_are_architecture_parameters_with_gradients(build) -> None:
    net = build(partial_channels=4, edge_normalization=True)
    assert net.arch_parameters() == [net.alphas, net.betas]
    assert all(p is not net.betas for p in net.weight_parameters())
    F.cross_entropy(net(torch.randn(4, 3, 8, 8, generator=_gen(6))), torch.arange(4)).backward()
    grad = net.betas.grad
    assert grad is not None and torch.isfinite(grad).all()
    # every edge into a node with two or more inputs gets a gradient (node 1 of NB201 has one edge: softmax of one)
    rows = grad[1:] if grad.dim() == 1 else grad
    assert (rows.abs() > 0).all()


def test_edge_normalization_steers_the_darts_derivation() -> None:
    net = _darts(edge_normalization=True)
    with torch.no_grad():
        net.alphas.zero_()  # all ops alike: the betas alone rank a node's inputs
        net.betas.zero_()
        lo = net.offsets[3]
        net.betas[:, lo + 3] = 2.0
        net.betas[:, lo + 4] = 3.0
    genotype = net.genotype()
    assert [j for _, j in genotype.normal[6:]] == [3, 4] and [j for _, j in genotype.reduce[6:]] == [3, 4]
    get_space("darts").parse(str(genotype))
    plain = _darts()
    with torch.no_grad():
        plain.alphas.zero_()
    assert [j for _, j in plain.genotype().normal[6:]] == [0, 1]  # ties go to the lower inputs without betas


def test_genotype_forward_runs_on_a_pc_supernet() -> None:
    for net, space in ((_nb201(partial_channels=4, edge_normalization=True), "nb201"),
                       (_darts(partial_channels=4, edge_normalization=True), "darts")):
        genotype = net.genotype()
        assert genotype.space_name == space
        assert net(torch.randn(2, 3, 8, 8, generator=_gen(7)), genotype=genotype).shape == (2, 10)


def test_bad_pc_options_are_refused() -> None:
    with pytest.raises(ValueError, match="must divide every channel width"):
        NB201SearchNetwork(C=6, N=1, partial_channels=4)
    with pytest.raises(ValueError, match="integer >= 1"):
        DartsSearchNetwork(C=8, num_cells=3, partial_channels=0)
    with pytest.raises(ValueError, match="'shared' mode only"):
        DartsSearchNetwork(C=8, num_cells=3, mode="per_cell", edge_normalization=True)


def test_the_edge_path_with_unit_edge_weights_and_k1_is_the_plain_cell() -> None:
    g = _gen(8)
    nb, darts = _nb201(), _darts()
    x = torch.randn(2, 8, 8, 8, generator=g)
    w = F.softmax(torch.randn(6, 5, generator=g), dim=-1)
    torch.testing.assert_close(nb.layers[0](x, w, None, torch.ones(6)), nb.layers[0](x, w), rtol=0, atol=0)
    s = darts.stem(torch.randn(2, 3, 8, 8, generator=g))
    flat = darts.pair_weights().reshape(2, -1)[0]
    cell = darts.cells[0]
    torch.testing.assert_close(cell(s, s, flat, edge_weights=torch.ones(darts.num_edges)), cell(s, s, flat),
                               atol=1e-6, rtol=1e-5)
