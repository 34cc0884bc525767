"""DARTS-space supernet (both modes, permanent deletion) and discrete networks from darts/flex genotypes."""

from __future__ import annotations

import pytest
import torch

from darts_backend.networks import count_parameters
from darts_backend.networks.darts import DartsNetwork, genotype_cost
from darts_backend.ops import create_op, list_ops
from darts_backend.ops.darts import DARTS_OP_NAMES
from darts_backend.supernets.darts import DartsSearchNetwork
from nasspace.darts import DARTSGenotype
from nasspace.errors import GenotypeError
from nasspace.flex import DNAD_OPS, FlexCell, FlexGenotype, FlexSpace
from nasspace.space import get_space


def _net(mode: str = "per_cell", **kwargs) -> DartsSearchNetwork:
    args = {"C": 4, "num_cells": 3, "nodes": 3, "generator": torch.Generator().manual_seed(0)}
    args.update(kwargs)
    return DartsSearchNetwork(mode=mode, **args)


@pytest.mark.parametrize("name", DARTS_OP_NAMES)
@pytest.mark.parametrize("stride", [1, 2])
def test_darts_ops_registered_and_shaped(name: str, stride: int) -> None:
    assert name in list_ops()
    op = create_op(name, 6, 6, stride, True)
    assert op(torch.randn(2, 6, 8, 8)).shape == (2, 6, 8 // stride, 8 // stride)


@pytest.mark.parametrize("mode", ["shared", "per_cell"])
def test_supernet_forward_and_genotype(mode: str) -> None:
    net = _net(mode, nodes=4)
    logits, feats = net(torch.randn(2, 3, 8, 8), return_features=True)
    assert logits.shape == (2, 10) and torch.isfinite(logits).all()
    assert [f.shape[1] for f in feats] == net.feature_channels()
    g = net.genotype()
    assert isinstance(g, DARTSGenotype if mode == "shared" else FlexGenotype)
    assert net.alphas.shape[0] == (2 if mode == "shared" else 3)


def test_shared_mode_deletion_applies_to_every_cell_of_a_type() -> None:
    net = _net("shared")
    remove = torch.zeros_like(net.alive)
    remove[0, 0, :] = True  # first edge of the normal cells
    net.delete(remove)
    g = net.flex_genotype()
    normal = [c for c in g.cells if c.cell_type == "normal"]
    assert all(c == normal[0] for c in normal) and all(i != 0 for _, i in normal[0].nodes[0])


def test_node_weights_normalise_and_never_divide_by_zero() -> None:
    for norm in ("node_relu", "node_softmax"):
        net = _net(normalization=norm)
        with torch.no_grad():
            net.alphas[0, :2] = -5.0  # node 2 of cell 0: every ReLU weight is 0
        w = net.pair_weights()
        assert torch.isfinite(w).all()
        for i, part in enumerate(net.node_weights(w)):
            sums = part.sum(dim=1)
            if norm == "node_softmax" or i > 0:
                assert torch.allclose(sums, torch.ones_like(sums), atol=1e-5)
        net.delete(torch.zeros_like(net.alive))
        loss = net(torch.randn(2, 3, 8, 8)).sum()
        loss.backward()
        assert torch.isfinite(net.alphas.grad).all()


def test_dropping_a_node_removes_its_uses_and_keeps_running() -> None:
    net = _net(ops=DNAD_OPS)
    remove = torch.zeros_like(net.alive)
    remove[1, 0:2] = True  # every pair of node 2 in cell 1 (edges 0, 1)
    deleted = net.delete(remove)
    assert net.alive_nodes(1) == [False, True, True]
    assert not net.alive[1, 2 + 2].any() and not net.alive[1, 5 + 2].any()  # node 3 and 4 reading node 2
    assert deleted == 2 * 3 + 2 * 3
    out = net(torch.randn(2, 3, 8, 8))
    assert torch.isfinite(out).all()
    cell = net.flex_genotype().cells[1]
    assert cell.k == 2 and all(i <= j + 1 for j, node in enumerate(cell.nodes) for _, i in node)


def test_deleting_everything_never_breaks_a_cell() -> None:
    net = _net(ops=DNAD_OPS)
    net.delete(torch.ones_like(net.alive))
    g = net.flex_genotype()
    assert all(cell.k == 1 and len(cell.nodes[0]) == 1 and cell.nodes[0][0][1] in (0, 1) for cell in g.cells)
    assert torch.isfinite(net(torch.randn(2, 3, 8, 8))).all()


def test_deleted_paths_are_not_computed() -> None:
    net = _net(ops=("sep_conv_3x3", "skip_connect"))
    calls: dict[str, int] = {}
    for name, module in net.cells[0].edge_ops.items():
        module.register_forward_hook(lambda m, i, o, name=name: calls.__setitem__(name, calls.get(name, 0) + 1))
    remove = torch.zeros_like(net.alive)
    remove[0, :, 0] = True  # every sep_conv of cell 0
    remove[0, 0, 0] = False  # ...but the one on edge 0
    net.delete(remove)
    net(torch.randn(2, 3, 8, 8))
    assert set(calls) == {"0_sep_conv_3x3"}


def test_shrinking_is_monotone_and_state_round_trips() -> None:
    net = _net(ops=DNAD_OPS)
    gen = torch.Generator().manual_seed(1)
    previous = net.alive.clone()
    for _ in range(6):
        net.delete(torch.rand(net.alive.shape, generator=gen) < 0.3)
        assert not (net.alive & ~previous).any()
        previous = net.alive.clone()
        DartsNetwork(net.flex_genotype(), C=4)(torch.randn(2, 3, 8, 8))
    other = _net(ops=DNAD_OPS, generator=torch.Generator().manual_seed(5))
    other.load_state_dict(net.state_dict())
    assert other.flex_genotype() == net.flex_genotype()
    x = torch.randn(2, 3, 8, 8)
    net.eval(), other.eval()
    assert torch.allclose(net(x), other(x), atol=1e-5)


@pytest.mark.parametrize("space", ["darts", "flex"])
def test_discrete_network_from_genotype(space: str) -> None:
    g = get_space(space).sample(3)
    net = DartsNetwork(g, C=4, num_cells=3)
    logits, feats = net(torch.randn(2, 3, 8, 8), return_features=True)
    assert logits.shape == (2, 10) and len(feats) == len(net.stage_end_names())
    cost = genotype_cost(g, C=4, num_cells=3, input_size=(3, 8, 8))
    assert cost.params == pytest.approx(count_parameters(net)) and cost.flops > 0


def test_fewer_pairs_cost_less() -> None:
    big = FlexCell("normal", ((("sep_conv_3x3", 0), ("dil_conv_5x5", 1)),))
    small = FlexCell("normal", ((("sep_conv_3x3", 0),),))
    red = FlexCell("reduce", ((("max_pool_3x3", 0),),))
    a = genotype_cost(FlexGenotype((big, red, big)), C=4, input_size=(3, 8, 8))
    b = genotype_cost(FlexGenotype((small, red, big)), C=4, input_size=(3, 8, 8))
    assert b.params < a.params and b.flops < a.flops


def test_flex_genotypes_satisfying_darts_rules_convert() -> None:
    space = FlexSpace()
    darts = get_space("darts").sample(7)
    flex = space.from_darts(darts)
    assert space.to_darts(flex) == darts
    assert count_parameters(DartsNetwork(flex, C=4)) == count_parameters(DartsNetwork(darts, C=4, num_cells=8))
    # a shared-mode supernet shrunk to two distinct inputs per node converts too
    net = _net("shared", nodes=4, ops=("none", "sep_conv_3x3", "skip_connect"))
    keep = torch.zeros_like(net.alive)
    for i, lo in enumerate(net.offsets[:-1]):
        keep[:, lo + 0, 1] = True
        keep[:, lo + 1, 2] = True
    net.delete(~keep)
    converted = space.to_darts(net.flex_genotype())
    assert converted.normal[0] == ("sep_conv_3x3", 0)
    with pytest.raises(GenotypeError, match="keeps 3 pairs"):
        cells = list(flex.cells)
        node = cells[0].nodes[0] + ((("max_pool_3x3", 1) if ("max_pool_3x3", 1) not in cells[0].nodes[0] else ("avg_pool_3x3", 1)),)
        cells[0] = FlexCell("normal", (node,) + cells[0].nodes[1:])
        space.to_darts(FlexGenotype(tuple(cells)))


def test_bad_configuration_raises_value_error() -> None:
    with pytest.raises(ValueError, match="valid modes"):
        _net("both")
    with pytest.raises(ValueError, match="none"):
        _net("per_cell", ops=("none", "skip_connect"))
    with pytest.raises(ValueError, match="shape"):
        _net().delete(torch.zeros(1, 2, 3, dtype=torch.bool))


def test_training_step_never_reads_device_values() -> None:
    """No ``.item()``/``bool(tensor)`` (``aten._local_scalar_dense``) in a step: on CUDA that is a host sync.

    Reads of the optimisers' ``step`` counters are ignored: torch keeps them on the CPU by default.
    """
    from torch.utils._python_dispatch import TorchDispatchMode

    from darts_backend.searchers.dnad import DNADConfig, DNADSearcher

    net = _net(ops=DNAD_OPS, normalization="node_relu")
    net.delete(torch.rand(net.alive.shape, generator=torch.Generator().manual_seed(0)) < 0.3)
    searcher = DNADSearcher(net, DNADConfig(warmup_epochs=0, prune_every=1000), input_size=(3, 8, 8))
    batch = (torch.randn(4, 3, 8, 8), torch.randint(0, 10, (4,)))
    searcher.train_step(batch)  # creates the optimiser state
    counters = {id(state["step"]) for opt in (searcher.w_optimizer, searcher.a_optimizer)
                for state in opt.state.values() if "step" in state}
    reads: list[str] = []

    class ScalarReads(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            if func in (torch.ops.aten._local_scalar_dense.default, torch.ops.aten.is_nonzero.default):
                if id(args[0]) not in counters:
                    reads.append(str(func))
            return func(*args, **(kwargs or {}))

    with ScalarReads():
        searcher.train_step(batch)  # a step without a deletion check
    assert reads == []
