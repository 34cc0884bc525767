"""DNAD: sparsity-driven shrinking, the emitted set, distillation, resume, and the CLI on synthetic data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from darts_backend.cli import main
from darts_backend.data import BatchLoader, synthetic_images
from darts_backend.searchers.distill import FeatureDistiller, FeatureTeacher
from darts_backend.networks.darts import DartsNetwork, genotype_cost
from darts_backend.runs.set_search import DartsSearchConfig, run_darts_search
from darts_backend.searchers import create_searcher, searcher_class
from darts_backend.searchers.dnad import DNADConfig, DNADSearcher
from darts_backend.supernets.darts import DartsSearchNetwork
from nasspace.flex import DNAD_OPS, FlexGenotype, reduction_layout
from nasspace.space import get_space

CONFIG = DNADConfig(epochs=6, warmup_epochs=1, prune_every=2, gamma_init=0.5, gamma_max=5.0)


def _network(seed: int = 0) -> DartsSearchNetwork:
    return DartsSearchNetwork(C=4, num_cells=3, nodes=2, ops=DNAD_OPS, mode="per_cell", normalization="node_relu",
                              generator=torch.Generator().manual_seed(seed))


def _loader() -> BatchLoader:
    return BatchLoader(synthetic_images(128, size=8, generator=torch.Generator().manual_seed(0)), 16, seed=0)


@pytest.fixture(scope="module")
def run() -> dict:
    torch.manual_seed(0)
    searcher = DNADSearcher(_network(), CONFIG, input_size=(3, 8, 8))
    loader = _loader()
    alive_history = [searcher.network.alive.clone()]
    for epoch in range(CONFIG.epochs):
        loader.set_epoch(epoch)
        for batch in loader:
            metrics = searcher.step(batch)
            assert all(math.isfinite(v) for v in metrics.values())
            alive_history.append(searcher.network.alive.clone())
        searcher.end_epoch()
    return {"searcher": searcher, "alive": alive_history, "snapshots": searcher.finalize()}


def test_registered_in_the_shared_registry() -> None:
    assert searcher_class("dnad") is DNADSearcher
    searcher = create_searcher("dnad", _network())
    assert isinstance(searcher.config, DNADConfig) and searcher.config.a_lr == 0.2  # DNAD's optimisers, not NB201's
    assert isinstance(searcher.w_optimizer, torch.optim.Adam) and isinstance(searcher.a_optimizer, torch.optim.SGD)


def test_shrinking_removes_ops_monotonically_and_keeps_cells_valid(run: dict) -> None:
    history = run["alive"]
    assert history[-1].sum() < history[0].sum()
    for before, after in zip(history, history[1:]):
        assert not (after & ~before).any()
    genotype = run["searcher"].genotype()
    assert all(cell.k >= 1 for cell in genotype.cells)


def test_emitted_set_builds_runs_and_shrinks(run: dict) -> None:
    snapshots = run["snapshots"]
    assert len(snapshots) >= 3
    flops = [s.flops for s in snapshots]
    assert all(a > b for a, b in zip(flops, flops[1:]))
    for s in snapshots:
        net = DartsNetwork(s.genotype, C=4)
        assert net(torch.randn(2, 3, 8, 8)).shape == (2, 10)
        entry = s.to_json()
        assert {"params", "flops", "search_acc"} <= set(entry)
        assert get_space("flex").from_json(json.loads(json.dumps(entry))) == s.genotype
        assert entry["params"] == pytest.approx(genotype_cost(s.genotype, C=4, num_cells=3, input_size=(3, 8, 8)).params, abs=1e-6)


def test_sparsity_term_of_uniform_weights() -> None:
    searcher = DNADSearcher(_network(), CONFIG)
    w = searcher.network.pair_weights()
    expected = 3 * (6 * math.log1p(50 / 6) + 9 * math.log1p(50 / 9))  # 3 cells; nodes with 6 and 9 pairs
    assert float(searcher.regularizer(w).detach()) == pytest.approx(expected, rel=1e-2)


def test_resume_continues_identically(run: dict) -> None:
    searcher = run["searcher"]
    clone = DNADSearcher(_network(seed=9), CONFIG, input_size=(3, 8, 8))
    clone.load_state_dict(searcher.state_dict())
    assert clone.genotype() == searcher.genotype()
    assert [s.genotype for s in clone.snapshots] == searcher.genotypes()
    assert (clone.gamma, clone.mu, clone.steps) == (searcher.gamma, searcher.mu, searcher.steps)


def test_distillation_step_lowers_the_feature_loss() -> None:
    torch.manual_seed(0)
    teacher_net = DartsNetwork(get_space("flex").sample(1, layout=reduction_layout(3), k=2), C=6)
    teacher = FeatureTeacher(teacher_net, teacher_net.stage_end_names())
    student = _network()
    distiller = FeatureDistiller(teacher, student.feature_channels(), teacher.channels((3, 8, 8)))
    x = torch.randn(16, 3, 8, 8)
    params = student.weight_parameters() + distiller.adapter_parameters()
    opt = torch.optim.Adam(params, lr=1e-2)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        _, feats = student(x, return_features=True)
        loss = distiller(x, feats)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]
    assert all(p.grad is None for p in teacher_net.parameters())


def test_searcher_with_teacher_reports_kd() -> None:
    teacher_net = DartsNetwork(get_space("flex").sample(2, layout=reduction_layout(3), k=2), C=4)
    teacher = FeatureTeacher(teacher_net, teacher_net.stage_end_names())
    net = _network()
    distiller = FeatureDistiller(teacher, net.feature_channels(), teacher.channels((3, 8, 8)))
    searcher = DNADSearcher(net, CONFIG, distiller=distiller, input_size=(3, 8, 8))
    metrics = searcher.step(next(iter(_loader())))
    assert metrics["kd"] > 0 and math.isfinite(metrics["loss"])
    with pytest.raises(ValueError, match="no submodules"):
        FeatureTeacher(teacher_net, ["cells.99"])


def test_cli_run_writes_the_set(tmp_path: Path) -> None:
    config = DartsSearchConfig(method="dnad", data="synthetic", channels=2, cells=3, nodes=2, epochs=2, batch_size=16,
                               limit_train=32, prune_every=1, options=("gamma_init=2.0", "gamma_max=5", "threshold=0.2"))
    entries = run_darts_search(config, tmp_path, progress=False)
    saved = json.loads((tmp_path / "genotypes.json").read_text())
    assert saved == entries and len(saved) >= 1
    assert all(isinstance(get_space("flex").from_json(e), FlexGenotype) for e in saved)
    assert (tmp_path / "pareto.png").stat().st_size > 0 and (tmp_path / "checkpoint.pt").is_file()
    with pytest.raises(ValueError, match="checkpoint"):
        run_darts_search(config, tmp_path, progress=False)
    assert run_darts_search(config, tmp_path, resume=True, progress=False) == entries
    code = main(["train", "--genotype", str(tmp_path / "genotypes.json"), "--index", "-1", "--data", "synthetic",
                 "--out", str(tmp_path / "train"), "--channels", "2", "--cells", "3", "--epochs", "1",
                 "--batch-size", "16", "--limit-train", "32", "--no-progress"])
    result = json.loads((tmp_path / "train" / "result.json").read_text())
    assert code == 0 and result["params"] == pytest.approx(entries[-1]["params"], abs=1e-6)
    assert main(["search", "--method", "dnad", "--space", "darts", "--data", "/nonexistent", "--out", str(tmp_path / "x")]) == 2
    assert main(["search", "--method", "dnad", "--data", "synthetic", "--out", str(tmp_path / "y")]) == 2  # nb201 space


def test_bad_options_raise() -> None:
    with pytest.raises(ValueError, match="KEY=VALUE"):
        DartsSearchConfig(options=("nonsense=1",)).searcher_config()
    with pytest.raises(ValueError, match="gamma"):
        DNADConfig(gamma_init=10.0, gamma_max=1.0)
    with pytest.raises(ValueError, match="per_cell"):
        DNADSearcher(DartsSearchNetwork(C=2, num_cells=3, nodes=2, mode="shared"))


def test_after_finishing_only_the_weights_train() -> None:
    searcher = DNADSearcher(_network(), CONFIG, input_size=(3, 8, 8))
    searcher.finished = True
    alphas, alive, steps = searcher.network.alphas.detach().clone(), searcher.network.alive.clone(), searcher.steps
    stem = searcher.network.stem[0].weight.detach().clone()
    metrics = searcher.step(next(iter(_loader())))
    assert torch.equal(searcher.network.alphas, alphas) and torch.equal(searcher.network.alive, alive)
    assert searcher.steps == steps and not torch.equal(searcher.network.stem[0].weight, stem)
    assert metrics["acc"] >= 0 and "gamma" in metrics


def test_gamma_adapts_and_a_capped_stall_makes_a_pareto_point() -> None:
    config = DNADConfig(gamma_init=0.1, gamma_max=0.2, stall_checks=3, prune_every=10)
    searcher = DNADSearcher(_network(), config, input_size=(3, 8, 8))
    searcher.target_per_check = 1.0
    big_reg = 1e6  # far above the floor
    assert searcher.adapt(0, big_reg) is None and searcher.gamma == pytest.approx(0.1 * 1.01 ** 10)
    assert searcher.adapt(5, big_reg) is None and searcher.gamma == pytest.approx(0.1 * (1.01 * 0.99) ** 10)
    searcher.gamma = config.gamma_max
    reasons = [searcher.adapt(0, big_reg) for _ in range(3)]
    assert reasons == [None, None, "pareto"] and searcher.mu == pytest.approx(2 * config.mu_init)
    assert searcher.adapt(0, 1.0) == "floor" and searcher.finished  # S under the floor stops the search


def test_a_teacher_genotype_without_its_weights_is_refused_before_any_work(tmp_path: Path, capsys) -> None:
    teacher = tmp_path / "teacher.json"
    teacher.write_text(json.dumps(get_space("flex").sample(1, layout=reduction_layout(3), k=2).to_json()))
    out = tmp_path / "run"
    code = main(["search", "--method", "dnad", "--space", "darts", "--data", "synthetic", "--out", str(out),
                 "--channels", "2", "--cells", "3", "--nodes", "2", "--epochs", "1", "--batch-size", "16",
                 "--limit-train", "32", "--no-progress", "--teacher", str(teacher)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and not out.exists()
    assert len(err.splitlines()) == 1 and "--teacher-checkpoint" in err
    with pytest.raises(ValueError, match="teacher-checkpoint"):
        DartsSearchConfig(teacher=str(teacher))
    missing = DartsSearchConfig(teacher_checkpoint=str(tmp_path / "missing.pt"), epochs=1, limit_train=32)
    with pytest.raises(ValueError, match="missing.pt"):
        run_darts_search(missing, tmp_path / "run2", progress=False)
    assert not (tmp_path / "run2").exists()
