"""FX-DARTS: entropy-driven shrinking of the flexible supernet and its milestone set."""

from __future__ import annotations

import math

import pytest
import torch

from darts_backend.data import BatchLoader, synthetic_images
from darts_backend.networks.darts import DartsNetwork
from darts_backend.searchers import searcher_class
from darts_backend.searchers.fx_darts import FXDartsConfig, FXDartsSearcher
from darts_backend.supernets.darts import DartsSearchNetwork
from nasspace.flex import FlexSpace

OPS = ("max_pool_3x3", "skip_connect", "sep_conv_3x3")
CONFIG = FXDartsConfig(epochs=6, warmup_epochs=1, prune_every=2, a_lr=0.1)


def _network(seed: int = 0) -> DartsSearchNetwork:
    return DartsSearchNetwork(C=4, num_cells=3, nodes=2, ops=OPS, mode="per_cell", normalization="node_softmax",
                              generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def run() -> dict:
    torch.manual_seed(0)
    searcher = FXDartsSearcher(_network(), CONFIG, input_size=(3, 8, 8))
    loader = BatchLoader(synthetic_images(128, size=8, generator=torch.Generator().manual_seed(0)), 16, seed=0)
    pairs = [searcher.network.num_alive_pairs()]
    for epoch in range(CONFIG.epochs):
        loader.set_epoch(epoch)
        for batch in loader:
            metrics = searcher.step(batch)
            assert all(math.isfinite(v) for v in metrics.values())
            pairs.append(searcher.network.num_alive_pairs())
        searcher.end_epoch()
    return {"searcher": searcher, "pairs": pairs, "snapshots": searcher.finalize()}


def test_registered() -> None:
    assert searcher_class("fx-darts") is FXDartsSearcher


def test_entropy_of_uniform_nodes_is_log_n() -> None:
    searcher = FXDartsSearcher(_network(), CONFIG)
    with torch.no_grad():
        searcher.network.alphas.zero_()
    h = float(searcher.regularizer(searcher.network.pair_weights()).detach())
    assert h == pytest.approx((math.log(6) + math.log(9)) / 2, rel=1e-4)  # mean over the 2 nodes of each cell


def test_relative_deletion_never_removes_a_nodes_last_pair() -> None:
    searcher = FXDartsSearcher(_network(), CONFIG)
    with torch.no_grad():
        searcher.network.alphas.normal_(0, 5.0)
    for _ in range(20):
        searcher.network.delete(searcher.deletion_mask(searcher.network.pair_weights()))
    assert all(all(searcher.network.alive_nodes(g)) for g in range(3))


def test_entropy_shrinking_is_monotone_and_decides(run: dict) -> None:
    pairs = run["pairs"]
    assert all(a >= b for a, b in zip(pairs, pairs[1:])) and pairs[-1] < pairs[0]
    assert run["searcher"].beta() == pytest.approx(CONFIG.entropy_weight)


def test_milestone_set_builds_and_flops_decrease(run: dict) -> None:
    snapshots = run["snapshots"]
    assert len(snapshots) >= 3 and snapshots[0].reason == "warmup_end"
    flops = [s.flops for s in snapshots]
    params = [s.params for s in snapshots]
    assert all(a > b for a, b in zip(flops, flops[1:])) and params[-1] < params[0]
    for s in snapshots:
        assert DartsNetwork(s.genotype, C=4)(torch.randn(2, 3, 8, 8)).shape == (2, 10)
        assert 0.0 <= s.search_acc <= 1.0


def test_decided_single_pair_genotypes_convert_to_darts_only_when_rules_hold(run: dict) -> None:
    from nasspace.errors import GenotypeError

    g = run["snapshots"][-1].genotype
    with pytest.raises(GenotypeError, match="not a DARTS genotype"):
        FlexSpace().to_darts(g)  # 2 nodes per cell (and possibly 1 pair per node): DARTS rules fail, named


def test_resume_round_trip(run: dict) -> None:
    searcher = run["searcher"]
    clone = FXDartsSearcher(_network(seed=3), CONFIG, input_size=(3, 8, 8))
    clone.load_state_dict(searcher.state_dict())
    assert clone.genotype() == searcher.genotype() and clone.genotypes() == searcher.genotypes()
    assert (clone.planned_steps, clone.shrink_start_step, clone.finished) == (
        searcher.planned_steps, searcher.shrink_start_step, searcher.finished)


@pytest.mark.parametrize("field, value", [("entropy_schedule", "cubic"), ("threshold_mode", "both"),
                                          ("entropy_reduction", "max"), ("entropy_ramp", 0.0)])
def test_bad_config_raises(field: str, value: object) -> None:
    with pytest.raises(ValueError):
        FXDartsConfig(**{field: value})
