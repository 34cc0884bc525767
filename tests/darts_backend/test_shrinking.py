"""The shrinking machinery shared by DNAD and FX-DARTS: schedules, gradient clipping, snapshots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from darts_backend.data import BatchLoader, synthetic_images
from darts_backend.networks.darts import DartsNetwork
from darts_backend.runs.trainer import SearchTrainer, TrainerConfig
from darts_backend.searchers.distill import FeatureDistiller, FeatureTeacher
from darts_backend.searchers.dnad import DNADConfig, DNADSearcher
from darts_backend.searchers.fx_darts import FXDartsConfig, FXDartsSearcher
from darts_backend.supernets.darts import DartsSearchNetwork
from nasspace.flex import DNAD_OPS, reduction_layout
from nasspace.space import get_space

STEPS_PER_EPOCH = 4  # 64 images in batches of 16


def _network(normalization: str, ops: tuple[str, ...] = DNAD_OPS) -> DartsSearchNetwork:
    return DartsSearchNetwork(C=4, num_cells=3, nodes=2, ops=ops, mode="per_cell", normalization=normalization,
                              generator=torch.Generator().manual_seed(0))


def _loader() -> BatchLoader:
    return BatchLoader(synthetic_images(64, size=8, generator=torch.Generator().manual_seed(0)), 16, seed=0)


def _fit(searcher, out: Path, epochs: int = 1) -> list[dict]:
    trainer = SearchTrainer(searcher, _loader(), None, out, TrainerConfig(epochs=epochs, progress=False, checkpoint=False))
    return trainer.fit()


def test_dnad_without_warmup_spreads_its_deletion_target_over_the_planned_steps(tmp_path: Path) -> None:
    config = DNADConfig(epochs=3, warmup_epochs=0, prune_every=2)
    searcher = DNADSearcher(_network("node_relu"), config, input_size=(3, 8, 8))
    surplus = searcher.network.num_alive_pairs() - searcher._alive_nodes()  # 3 cells x (6 + 9) pairs - 6 nodes
    _fit(searcher, tmp_path)
    assert searcher.steps_per_epoch == STEPS_PER_EPOCH
    planned = STEPS_PER_EPOCH * config.epochs
    assert searcher.target_per_check == pytest.approx(surplus * config.prune_every / planned)  # 6.5, not 1.0


def test_fx_darts_without_warmup_ramps_beta_from_zero(tmp_path: Path) -> None:
    config = FXDartsConfig(epochs=3, warmup_epochs=0, prune_every=2, entropy_weight=1.0, entropy_ramp=0.5)
    searcher = FXDartsSearcher(_network("node_softmax"), config, input_size=(3, 8, 8))
    record = _fit(searcher, tmp_path)[0]
    ramp = config.entropy_ramp * STEPS_PER_EPOCH * config.epochs  # 6 steps to full beta
    assert record["beta"] == pytest.approx(sum(t / ramp for t in range(STEPS_PER_EPOCH)) / STEPS_PER_EPOCH)  # 0.25
    assert searcher.beta() == pytest.approx(STEPS_PER_EPOCH / ramp)


def test_fx_darts_with_warmup_starts_its_ramp_at_the_warmup_end(tmp_path: Path) -> None:
    config = FXDartsConfig(epochs=3, warmup_epochs=1, prune_every=2, entropy_weight=1.0, entropy_ramp=0.5)
    searcher = FXDartsSearcher(_network("node_softmax"), config, input_size=(3, 8, 8))
    records = _fit(searcher, tmp_path, epochs=2)
    ramp = config.entropy_ramp * STEPS_PER_EPOCH * (config.epochs - config.warmup_epochs)
    assert records[0]["beta"] == 0.0
    assert records[1]["beta"] == pytest.approx(sum(t / ramp for t in range(STEPS_PER_EPOCH)) / STEPS_PER_EPOCH)


def _grad_norm(params) -> float:
    grads = [p.grad for p in params if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))


@pytest.mark.parametrize("cls, normalization", [(DNADSearcher, "node_relu"), (FXDartsSearcher, "node_softmax")])
def test_a_step_clips_weight_alpha_and_distiller_gradients(cls, normalization) -> None:
    teacher_net = DartsNetwork(get_space("flex").sample(1, layout=reduction_layout(3), k=2), C=4)
    teacher = FeatureTeacher(teacher_net, teacher_net.stage_end_names())
    network = _network(normalization)
    distiller = FeatureDistiller(teacher, network.feature_channels(), teacher.channels((3, 8, 8)))
    clip = 1e-4  # far below every raw gradient norm
    config = cls.config_class(epochs=2, warmup_epochs=0, prune_every=100, grad_clip=clip)
    searcher = cls(network, config, distiller=distiller, input_size=(3, 8, 8))
    seen: dict[str, float] = {}
    w_step, a_step = searcher.w_optimizer.step, searcher.a_optimizer.step

    def spy_w(*args, **kwargs):
        seen["weights"] = _grad_norm(network.weight_parameters())
        seen["distiller"] = _grad_norm(distiller.adapter_parameters())
        return w_step(*args, **kwargs)

    def spy_a(*args, **kwargs):
        seen["alphas"] = _grad_norm(network.arch_parameters())
        return a_step(*args, **kwargs)

    searcher.w_optimizer.step, searcher.a_optimizer.step = spy_w, spy_a
    searcher.step(next(iter(_loader())))
    assert set(seen) == {"weights", "distiller", "alphas"}
    for group, norm in seen.items():
        assert 0 < norm <= clip * (1 + 1e-3), group


@pytest.mark.parametrize("cls, normalization", [(DNADSearcher, "node_relu"), (FXDartsSearcher, "node_softmax")])
def test_a_step_between_checks_issues_no_host_sync(cls, normalization, sync_counter) -> None:
    searcher = cls(_network(normalization), cls.config_class(epochs=2, warmup_epochs=0, prune_every=100),
                   input_size=(3, 8, 8))
    searcher.plan(STEPS_PER_EPOCH)
    batch = next(iter(_loader()))
    searcher.train_step(batch)
    with sync_counter:
        searcher.train_step(batch)
    assert sync_counter.calls == []


def test_a_forced_point_is_kept_even_when_nothing_was_deleted_since_the_last_one() -> None:
    # gamma starts at its cap and nothing can fall under the threshold: the first check stalls at once
    config = DNADConfig(epochs=2, warmup_epochs=0, prune_every=1, threshold=1e-12, gamma_init=0.1, gamma_max=0.1,
                        stall_checks=1)
    searcher = DNADSearcher(_network("node_relu"), config, input_size=(3, 8, 8))
    searcher.plan(STEPS_PER_EPOCH)
    searcher.step(next(iter(_loader())))  # one check: the warm-up-end point, then a Pareto point (same cell)
    assert searcher.mu == pytest.approx(config.mu_init * config.mu_factor)  # DNAD did ask for a Pareto point
    assert [s.reason for s in searcher.snapshots] == ["pareto"]  # it replaces the equal-FLOPs point before it
    assert searcher.snapshots[0].step == 1
    searcher.finalize()  # unforced: an equal-FLOPs final point is still not added
    assert [s.reason for s in searcher.snapshots] == ["pareto"]
