"""The DARTS supernet scoring one fixed DARTS genotype with inherited weights, and run-folder loading."""

from __future__ import annotations

import pytest
import torch

from darts_backend.runs.evaluators import load_evaluator
from darts_backend.runs.set_search import (
    DartsSearchConfig,
    load_search_network,
    run_darts_search,
)
from darts_backend.supernets.darts import DartsSearchNetwork
from nasspace.darts import DARTSGenotype
from nasspace.space import get_space

# normal node 2 reads inputs 0 and 1 with sep_conv_3x3 / dil_conv_3x3; every op here has weights
# on every edge it uses (convs), so perturbing one changes the output when it is chosen.
GENOTYPE = get_space("darts").parse(
    "Genotype(normal=[('sep_conv_3x3', 0), ('dil_conv_3x3', 1), ('sep_conv_5x5', 2), ('sep_conv_3x3', 0), "
    "('dil_conv_5x5', 1), ('sep_conv_3x3', 3), ('sep_conv_3x3', 4), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 2), ('dil_conv_3x3', 0), "
    "('avg_pool_3x3', 1), ('sep_conv_5x5', 3), ('dil_conv_5x5', 4), ('skip_connect', 1)], reduce_concat=[2, 3, 4, 5])"
)


def _net(mode: str = "shared") -> DartsSearchNetwork:
    return DartsSearchNetwork(C=4, num_cells=3, nodes=4, mode=mode, generator=torch.Generator().manual_seed(0)).eval()


def _perturbed(net: DartsSearchNetwork, key: str, x: torch.Tensor) -> torch.Tensor:
    """Logits of ``GENOTYPE`` after adding noise to every weight of edge op ``key`` of cell 0."""
    with torch.no_grad():
        for p in net.cells[0].edge_ops[key].parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
        return net(x, genotype=GENOTYPE)


@pytest.mark.parametrize("mode", ["shared", "per_cell"])
def test_genotype_forward_depends_only_on_chosen_ops(mode: str) -> None:
    net = _net(mode)
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = net(x, genotype=GENOTYPE)
        mixture = net(x)
    assert before.shape == (2, 10) and torch.isfinite(before).all()
    assert not torch.allclose(before, mixture)  # not the alpha-weighted mixture
    # normal node 2 (edges 0, 1): input 0 chosen with sep_conv_3x3, so sep_conv_5x5 on it is unused
    assert torch.equal(_perturbed(net, "0_sep_conv_5x5", x), before)
    assert torch.equal(_perturbed(net, "1_sep_conv_3x3", x), before)
    with torch.no_grad():
        net.alphas.add_(torch.randn(net.alphas.shape))  # alphas play no part
        assert torch.equal(net(x, genotype=GENOTYPE), before)
    assert not torch.allclose(_perturbed(net, "0_sep_conv_3x3", x), before)


def test_genotype_forward_pair_order_is_irrelevant_and_errors() -> None:
    net = _net()
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    swapped = DARTSGenotype(
        tuple(p for k in range(4) for p in (GENOTYPE.normal[2 * k + 1], GENOTYPE.normal[2 * k])), GENOTYPE.reduce
    )
    with torch.no_grad():
        assert torch.allclose(net(x, genotype=GENOTYPE), net(x, genotype=swapped), atol=1e-6)
    with pytest.raises(ValueError, match="return_features"):
        net(x, genotype=GENOTYPE, return_features=True)
    with pytest.raises(ValueError, match="its ops"):
        DartsSearchNetwork(C=4, num_cells=3, nodes=4, mode="per_cell", ops=("sep_conv_3x3", "skip_connect"))(
            x, genotype=GENOTYPE)
    with pytest.raises(ValueError, match="4 nodes"):
        DartsSearchNetwork(C=4, num_cells=3, nodes=3)(x, genotype=GENOTYPE)


def test_genotype_forward_on_a_shrunk_network_restores_its_plan() -> None:
    net = _net("per_cell")
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    remove = torch.zeros_like(net.alive)
    remove[:, net.offsets[3]:] = True  # drop node 5 of every cell
    net.delete(remove)
    with torch.no_grad():
        mixture = net(x)
        scored = net(x, genotype=GENOTYPE)
        assert scored.shape == (2, 10) and torch.isfinite(scored).all()
        assert torch.equal(net(x), mixture)  # the shrunk plan and widths are back


def test_load_search_network_of_a_run_folder(tmp_path) -> None:
    config = DartsSearchConfig(method="fx-darts", data="synthetic", channels=2, cells=3, nodes=4, epochs=1,
                               batch_size=16, limit_train=32)
    run_darts_search(config, tmp_path, progress=False)
    network, run_config = load_search_network(tmp_path)
    assert isinstance(network, DartsSearchNetwork) and network.mode == "per_cell" and network.k == 4
    assert run_config["method"] == "fx-darts" and run_config["limit_train"] == 32
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["searcher"]["network"]
    assert torch.equal(network.alive, state["alive"]) and torch.equal(network.alphas, state["alphas"])
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert network(x, genotype=GENOTYPE).shape == (2, 10)
    with pytest.raises(ValueError, match="holds no checkpoint.pt"):
        load_search_network(tmp_path / "missing")
    evaluator = load_evaluator(tmp_path, images=24, batch_size=16)  # the held-out synthetic images after the 32
    scores = evaluator.score([GENOTYPE, get_space("darts").sample(0)])
    assert len(scores) == 2 and all(0.0 <= s <= 100.0 for s in scores)
    assert evaluator.score([GENOTYPE]) == scores[:1]  # scoring leaves the network as it was
