"""PC-DARTS and MS-DARTS searchers: their steps, runs, presets and resume."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from darts_backend.cli import main
from darts_backend.data import BatchLoader, synthetic_images
from darts_backend.runs.presets import preset_values
from darts_backend.runs.search import SearchRunConfig, load_search_network, run_search
from darts_backend.runs.trainer import SearchTrainer, TrainerConfig
from darts_backend.searchers import (MSDartsConfig, PCDartsConfig, SearcherConfig, create_searcher, parse_options)
from darts_backend.supernets import DartsSearchNetwork, NB201SearchNetwork
from nasspace import get_space


def _pc_net(**kw) -> NB201SearchNetwork:
    return NB201SearchNetwork(C=4, N=1, partial_channels=kw.pop("partial_channels", 4),
                              edge_normalization=kw.pop("edge_normalization", True),
                              generator=torch.Generator().manual_seed(0), **kw)


def _params(network) -> list[torch.Tensor]:
    return [p.detach().clone() for p in network.parameters()]


# -- PC-DARTS ----------------------------------------------------------------------------------------

def test_pc_darts_refuses_a_plain_supernet(tiny_network) -> None:
    with pytest.raises(ValueError, match="plain 'darts'"):
        create_searcher("pc-darts", tiny_network)


def test_pc_darts_warm_up_trains_only_weights_then_steps_alphas_and_betas(batches) -> None:
    train, valid, _ = batches
    net = _pc_net()
    searcher = create_searcher("pc-darts", net, PCDartsConfig(epochs=3, arch_warmup_epochs=1))
    alphas, betas, stem = net.alphas.detach().clone(), net.betas.detach().clone(), net.stem[0].weight.detach().clone()
    metrics = searcher.step(train, valid)
    assert set(metrics) == {"loss", "acc"}
    assert torch.equal(net.alphas, alphas) and torch.equal(net.betas, betas)  # warm-up: architecture frozen
    assert not torch.equal(net.stem[0].weight, stem)
    searcher.end_epoch()
    metrics = searcher.step(train, valid)
    assert {"valid_loss", "valid_acc"} <= set(metrics)
    assert not torch.equal(net.alphas, alphas) and not torch.equal(net.betas, betas)


def test_pc_darts_step_is_the_darts_step_on_the_same_supernet(batches) -> None:
    train, valid, _ = batches
    a, b = _pc_net(), _pc_net()
    create_searcher("pc-darts", a, SearcherConfig(epochs=2)).step(train, valid)
    create_searcher("darts", b, SearcherConfig(epochs=2)).step(train, valid)
    for p, q in zip(_params(a), _params(b)):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


@pytest.mark.parametrize("space, cells", [("nb201", 1), ("darts", 3)])
def test_a_short_pc_darts_run_derives_a_valid_genotype(space, cells, tmp_path) -> None:
    config = SearchRunConfig(method="pc-darts", space=space, data="synthetic", channels=4, cells=cells, epochs=1,
                             batch_size=16, limit_train=64, device="cpu", optim=PCDartsConfig(arch_warmup_epochs=0))
    assert (config.partial_channels, config.edge_normalization) == (4, True)  # the method's supernet defaults
    result = run_search(config, tmp_path / space, progress=False)
    assert get_space(space).parse(str(result.genotype)) == result.genotype
    saved = json.loads((tmp_path / space / "config.json").read_text())
    assert (saved["partial_channels"], saved["edge_normalization"], saved["optim"]["arch_warmup_epochs"]) == (4, True, 0)
    network, _ = load_search_network(tmp_path / space)  # the supernet evaluator's loader rebuilds the PC supernet
    assert (network.partial_channels, network.edge_normalization) == (4, True)
    assert network.genotype() == result.genotype


def test_pc_darts_paper_preset_is_the_published_setting() -> None:
    for space, cells in (("nb201", 5), ("darts", 8)):
        config = SearchRunConfig(method="pc-darts", space=space, **preset_values("paper", "pc-darts", space), preset="paper")
        o = config.optim
        assert isinstance(o, PCDartsConfig)
        assert (config.channels, config.cells, config.epochs, config.batch_size) == (16, cells, 50, 256)
        assert (config.partial_channels, config.edge_normalization, o.arch_warmup_epochs) == (4, True, 15)
        assert (o.w_lr, o.w_lr_min, o.w_momentum, o.w_nesterov, o.w_weight_decay, o.grad_clip) == (0.1, 1e-3, 0.9, False, 3e-4, 5.0)
        assert (o.a_lr, o.a_betas, o.a_weight_decay) == (6e-4, (0.5, 0.999), 1e-3)
    cpu = SearchRunConfig(method="pc-darts", **preset_values("cpu", "pc-darts", "nb201"), preset="cpu")
    assert (cpu.channels, cpu.cells, cpu.epochs, cpu.batch_size, cpu.optim.arch_warmup_epochs) == (8, 1, 10, 64, 3)


# -- MS-DARTS ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("pc", [False, True])
def test_ms_darts_with_no_bandwidth_and_one_sample_is_single_darts_exactly(pc, batches) -> None:
    train, valid, _ = batches
    build = _pc_net if pc else (lambda: NB201SearchNetwork(C=4, N=1, generator=torch.Generator().manual_seed(0)))
    a, b = build(), build()
    sa = create_searcher("ms-darts", a, MSDartsConfig(epochs=2, samples=1, bandwidth=0.0))
    sb = create_searcher("single-darts", b, SearcherConfig(epochs=2))
    for _ in range(2):
        ma, mb = sa.step(train, valid), sb.step(train, valid)
        assert ma == mb
    for p, q in zip(_params(a), _params(b)):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def _recording(searcher):
    """Wrap the searcher's loss and alpha step to record the alpha offsets and the alphas stepped from."""
    offsets, stepped_from = [], []
    center = {}
    loss, a_step = searcher._loss, searcher.a_optimizer.step

    def record_loss(batch):
        offsets.append((searcher.network.alphas.detach() - center["alphas"]).clone())
        return loss(batch)

    def record_step(*args, **kwargs):
        stepped_from.append(searcher.network.alphas.detach().clone())
        return a_step(*args, **kwargs)

    searcher._loss, searcher.a_optimizer.step = record_loss, record_step
    return offsets, stepped_from, center


def test_ms_darts_perturbations_stay_within_the_bandwidth_and_are_undone(tiny_network, batches) -> None:
    train, _, _ = batches
    cfg = MSDartsConfig(epochs=3, samples=4, bandwidth=0.5, bandwidth_start=0.2)
    searcher = create_searcher("ms-darts", tiny_network, cfg)
    offsets, stepped_from, center = _recording(searcher)
    for epoch, h in enumerate((0.1, 0.3, 0.5)):  # linear from 0.2 h to h
        assert searcher.bandwidth() == pytest.approx(h)
        center["alphas"] = tiny_network.alphas.detach().clone()
        offsets.clear()
        searcher.step(train)
        assert len(offsets) == 4
        assert all(o.abs().max() <= h * (1 + 1e-5) for o in offsets)
        assert all(o.abs().max() > h / 2 for o in offsets)  # 30 uniform draws: the bandwidth is used
        assert not torch.equal(offsets[0], offsets[1])
        torch.testing.assert_close(stepped_from[-1], center["alphas"], rtol=0, atol=0)  # stepped from the centre
        searcher.end_epoch()
    constant = create_searcher("ms-darts", copy.deepcopy(tiny_network), MSDartsConfig(epochs=3, bandwidth_schedule="constant"))
    assert constant.bandwidth() == 1.0


def test_ms_darts_averages_the_gradients_of_its_samples(tiny_network, batches) -> None:
    train, _, _ = batches
    searcher = create_searcher("ms-darts", tiny_network, MSDartsConfig(epochs=1, samples=3, bandwidth=0.3, grad_clip=0.0))
    offsets, _, center = _recording(searcher)
    center["alphas"] = tiny_network.alphas.detach().clone()
    reference = copy.deepcopy(tiny_network)
    searcher.step(train)
    expected = torch.zeros_like(reference.alphas)
    for offset in offsets:
        ref = copy.deepcopy(reference)
        with torch.no_grad():
            ref.alphas.add_(offset)
        loss = torch.nn.functional.cross_entropy(ref(train[0]), train[1])
        expected += torch.autograd.grad(loss, [ref.alphas])[0] / 3
    torch.testing.assert_close(tiny_network.alphas.grad, expected, atol=1e-6, rtol=1e-4)


def test_ms_darts_perturbations_are_seeded(tiny_network, batches) -> None:
    train, _, _ = batches

    def first_offsets(seed):
        net = copy.deepcopy(tiny_network)
        searcher = create_searcher("ms-darts", net, MSDartsConfig(epochs=1, seed=seed))
        offsets, _, center = _recording(searcher)
        center["alphas"] = net.alphas.detach().clone()
        searcher.step(train)
        return torch.stack(offsets)

    torch.testing.assert_close(first_offsets(3), first_offsets(3), rtol=0, atol=0)
    assert not torch.equal(first_offsets(3), first_offsets(4))


def test_ms_darts_step_issues_no_host_sync(tiny_network, batches, sync_counter) -> None:
    searcher = create_searcher("ms-darts", tiny_network, MSDartsConfig(epochs=2))
    searcher.train_step(batches[0], None)
    with sync_counter:
        searcher.train_step(batches[0], None)
    assert sync_counter.calls == []


def test_ms_darts_runs_on_the_darts_space_with_partial_channels(batches) -> None:
    net = DartsSearchNetwork(C=4, num_cells=3, partial_channels=2, generator=torch.Generator().manual_seed(0))
    searcher = create_searcher("ms-darts", net, MSDartsConfig(epochs=1))
    alphas = net.alphas.detach().clone()
    metrics = searcher.step(batches[0])
    assert set(metrics) == {"loss", "acc"} and all(v == v for v in metrics.values())
    assert not torch.equal(net.alphas, alphas)
    assert get_space("darts").parse(str(net.genotype())) == net.genotype()


def test_ms_darts_options_resolve_into_the_run_config() -> None:
    config = SearchRunConfig(method="ms-darts", seed=7, epochs=4, options=("samples=5", "bandwidth=0.25"))
    o = config.optim
    assert isinstance(o, MSDartsConfig)
    assert (o.samples, o.bandwidth, o.seed, o.epochs) == (5, 0.25, 7, 4)
    assert (config.partial_channels, config.edge_normalization) == (1, False)
    assert SearchRunConfig(method="ms-darts", seed=7, options=("seed=2",)).optim.seed == 2
    with pytest.raises(ValueError, match="KEY one of .*samples"):
        SearchRunConfig(method="ms-darts", options=("sample=5",))
    with pytest.raises(ValueError, match="samples must be >= 1"):
        SearchRunConfig(method="ms-darts", options=("samples=0",))
    with pytest.raises(ValueError, match="bandwidth_schedule must be one of linear, constant"):
        MSDartsConfig(bandwidth_schedule="cosine")
    assert parse_options(MSDartsConfig, ["samples=2", "samples=3"]) == {"samples": 3}


def test_ms_darts_presets_follow_single_darts() -> None:
    for space in ("nb201", "darts"):
        for name in ("paper", "cpu"):
            ms, sd = preset_values(name, "ms-darts", space), preset_values(name, "single-darts", space)
            assert isinstance(ms["optim"], MSDartsConfig) and ms["optim"].samples == 3
            assert {k: v for k, v in ms.items() if k not in ("optim", "epochs")} == \
                {k: v for k, v in sd.items() if k not in ("optim", "epochs")}
    assert preset_values("paper", "ms-darts", "darts")["epochs"] == 40


# -- resume ------------------------------------------------------------------------------------------

class Interrupt(Exception):
    pass


def _trainer(method, out_dir, epochs=3):
    if method == "pc-darts":
        network, config = _pc_net(), PCDartsConfig(epochs=epochs, arch_warmup_epochs=1)
    else:
        network = NB201SearchNetwork(C=4, N=1, partial_channels=2, generator=torch.Generator().manual_seed(0))
        config = MSDartsConfig(epochs=epochs, samples=2, seed=5)
    searcher = create_searcher(method, network, config)
    data = synthetic_images(64, size=8, generator=torch.Generator().manual_seed(0))
    train, valid = data.split(0.5, generator=torch.Generator().manual_seed(1))
    return SearchTrainer(searcher, BatchLoader(train, 8, seed=0), BatchLoader(valid, 8, seed=1), out_dir,
                         TrainerConfig(epochs=epochs, progress=False))


@pytest.mark.parametrize("method", ["pc-darts", "ms-darts"])
def test_resume_continues_identically(method, tmp_path) -> None:
    straight = _trainer(method, tmp_path / "a")
    straight.fit()

    def crash(epoch, record):
        if epoch == 0:
            raise Interrupt

    first = _trainer(method, tmp_path / "b")
    with pytest.raises(Interrupt):
        first.fit(on_epoch_end=crash)
    resumed = _trainer(method, tmp_path / "b")
    assert resumed.resume() == 1
    resumed.fit()
    a, b = straight.searcher.network.state_dict(), resumed.searcher.network.state_dict()
    assert ("betas" in a) == (method == "pc-darts")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    assert (tmp_path / "a" / "alphas.json").read_text() == (tmp_path / "b" / "alphas.json").read_text()
    history = json.loads((tmp_path / "a" / "alphas.json").read_text())["history"]
    assert ("edge_weights" in history[-1]) == (method == "pc-darts")
    if method == "pc-darts":
        assert len(history[-1]["edge_weights"]) == 6 and history[-1]["edge_weights"][0] == pytest.approx(1.0)


def test_cli_ms_darts_run_records_its_options_and_resumes_only_with_them(tmp_path) -> None:
    common = ["search", "--method", "ms-darts", "--space", "nb201", "--data", "synthetic", "--channels", "4",
              "--cells", "1", "--batch-size", "16", "--limit-train", "32", "--partial-channels", "2",
              "--option", "samples=2", "--no-progress"]
    assert main([*common, "--out", str(tmp_path / "a"), "--epochs", "2"]) == 0
    assert main([*common, "--out", str(tmp_path / "b"), "--epochs", "1"]) == 0
    assert main([*common, "--out", str(tmp_path / "b"), "--epochs", "2", "--resume"]) == 2  # epochs differ: refused
    assert main([*common, "--out", str(tmp_path / "a"), "--epochs", "2", "--resume", "--option", "samples=3"]) == 2
    assert main([*common, "--out", str(tmp_path / "a"), "--epochs", "2", "--resume"]) == 0  # same settings: accepted
    saved = json.loads((tmp_path / "a" / "config.json").read_text())
    assert (saved["partial_channels"], saved["optim"]["samples"], saved["options"]) == (2, 2, ["samples=2"])


def test_cli_bench_times_pc_and_ms_darts(capsys) -> None:
    for method in ("pc-darts", "ms-darts"):
        assert main(["bench", "--method", method, "--channels", "4", "--cells", "1", "--batch-size", "8",
                     "--steps", "1", "--warmup", "0", "--device", "cpu"]) == 0
        assert "img/s" in capsys.readouterr().out


def test_a_run_stored_before_the_pc_options_still_resumes(tmp_path) -> None:
    from darts_backend.runs.files import load_checkpoint, save_checkpoint

    args = ["search", "--method", "single-darts", "--space", "nb201", "--data", "synthetic", "--out", str(tmp_path),
            "--channels", "4", "--cells", "1", "--batch-size", "16", "--limit-train", "32", "--epochs", "1", "--no-progress"]
    assert main(args) == 0
    path = tmp_path / "checkpoint.pt"
    state = load_checkpoint(path)
    stored = json.loads(state["run_config"])
    for key in ("partial_channels", "edge_normalization", "options"):
        del stored[key]  # what an older version wrote
    save_checkpoint(path, {**state, "run_config": json.dumps(stored)})
    assert main([*args, "--resume"]) == 0
    assert main([*args, "--resume", "--partial-channels", "2"]) == 2  # a different supernet is refused


@pytest.mark.parametrize("space", ["nb201", "darts"])
def test_pc_darts_step_issues_no_host_sync(space, batches, sync_counter) -> None:
    gen = torch.Generator().manual_seed(0)
    net = _pc_net() if space == "nb201" else DartsSearchNetwork(C=4, num_cells=3, partial_channels=4,
                                                                 edge_normalization=True, generator=gen)
    searcher = create_searcher("pc-darts", net, PCDartsConfig(epochs=2))
    train, valid, _ = batches
    searcher.train_step(train, valid)  # optimizer state exists from here on
    with sync_counter:
        searcher.train_step(train, valid)
    assert sync_counter.calls == []


def test_bad_pc_run_options_are_refused_before_any_work(tmp_path, capsys) -> None:
    with pytest.raises(ValueError, match="plain 'darts'"):
        SearchRunConfig(method="pc-darts", partial_channels=1, edge_normalization=False)
    with pytest.raises(ValueError, match="must divide"):
        SearchRunConfig(method="single-darts", channels=6, partial_channels=4)
    out = tmp_path / "x"
    assert main(["search", "--method", "pc-darts", "--data", "synthetic", "--out", str(out), "--channels", "6"]) == 2
    assert "must divide" in capsys.readouterr().err and not out.exists()
    assert SearchRunConfig(method="pc-darts", partial_channels=1).edge_normalization is True  # one option suffices
