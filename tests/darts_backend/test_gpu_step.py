"""The GPU-ready step: bf16 autocast (resolved once, wired through every search step), optional
torch.compile, cuDNN autotuning, and the benchmark's peak memory. The ``gpu`` tests skip without CUDA."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from darts_backend.cli import main
from darts_backend.data import BatchLoader, synthetic_images
from darts_backend.networks.darts import DartsNetwork
from darts_backend.runs import search as search_run
from darts_backend.runs import set_search
from darts_backend.runs.bench import BenchConfig, benchmark_throughput
from darts_backend.runs.precision import AgreementConfig, alpha_gradient, alpha_gradient_agreement
from darts_backend.runs.train import TrainConfig
from darts_backend.runs.trainer import compile_network
from darts_backend.searchers import SearcherConfig, create_searcher
from darts_backend.searchers.base import autocast_dtype, parse_options
from darts_backend.searchers.distill import FeatureDistiller, FeatureTeacher
from darts_backend.searchers.dnad import DNADConfig, DNADSearcher
from darts_backend.supernets import NB201SearchNetwork
from darts_backend.supernets.darts import DartsSearchNetwork
from nasspace.flex import DNAD_OPS, reduction_layout
from nasspace.space import get_space


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(F.cosine_similarity(a, b, dim=0))


@pytest.mark.gpu
def test_paper_size_step_on_cuda_is_finite_and_bf16_alpha_gradient_agrees_with_fp32() -> None:
    """Issue 14's criterion (cosine > 0.95 on one batch at NB201 C=16, N=5, batch 64, at initialisation).

    Never run here (no CUDA). The CPU bf16 stand-in of this exact check (random-noise batch, seeds 0, 1, 2)
    gives 0.902 / 0.894 / 0.654 as searches run and 0.876 / 0.902 / 0.918 with the float32 mixing option
    (issue 31); on CIFAR-10 batches (10 seeds x 2) the mean is 0.979 as searches run and 0.978 with the
    option, above 0.95 on 18 of 20 either way. At initialisation the alpha gradient is mostly minibatch noise (two
    fp32 batches: median |cosine| 0.26), so bf16 rounding anywhere in the network moves it: this test may
    well fail on a GPU. The next test checks the same agreement after 40 training steps, where it is what
    the search uses (CPU stand-in: 0.993-1.000)."""
    device = torch.device("cuda")
    gen = torch.Generator().manual_seed(0)
    network = NB201SearchNetwork(C=16, N=5, num_classes=10, generator=gen).to(device)
    searcher = create_searcher("single-darts", network, SearcherConfig())
    assert searcher.autocast_dtype == (torch.bfloat16 if torch.cuda.is_bf16_supported() else None)
    batch = (torch.randn(64, 3, 32, 32, generator=gen).to(device), torch.randint(0, 10, (64,), generator=gen).to(device))
    fp32 = alpha_gradient(searcher, batch, None)
    bf16 = alpha_gradient(searcher, batch, torch.bfloat16)
    assert fp32.norm() > 0 and _cosine(fp32, bf16) > 0.95
    searcher.autocast_dtype = autocast_dtype(device, True)
    metrics = searcher.step(batch)
    assert math.isfinite(metrics["loss"])
    stats = benchmark_throughput(BenchConfig(device="cuda", steps=2, warmup=1))
    assert stats["cuda"] == 1.0 and stats["peak_memory_mb"] > 0 and stats["images_per_s"] > 0
    assert torch.backends.cudnn.benchmark


@pytest.mark.gpu
def test_bf16_alpha_gradient_agrees_with_fp32_after_40_training_steps() -> None:
    """The same threshold, after 40 fp32 Single-DARTS steps on synthetic images (paper size, batch 64), as
    searches run. CPU bf16 stand-in: 0.993-1.000 on 6 batches (seeds 0-2), with or without the float32 mixing."""
    rows = alpha_gradient_agreement(AgreementConfig(seeds=(0,), batches=2, trained_steps=(40,), device="cuda"))
    assert len(rows) == 2 and all(r["cosine"] > 0.95 for r in rows)


@pytest.mark.gpu
def test_the_host_sync_counter_sees_a_sync_and_a_bench_step_makes_none() -> None:
    from darts_backend.runs.bench import host_syncs

    with host_syncs(True) as seen:
        torch.ones(1, device="cuda").item()
    assert len(seen) >= 1
    stats = benchmark_throughput(BenchConfig(device="cuda", steps=2, warmup=1))
    assert stats["host_syncs_per_step"] == 0


def test_autocast_is_resolved_once_and_off_on_cpu() -> None:
    assert autocast_dtype(torch.device("cpu"), True) is None
    assert autocast_dtype(torch.device("cpu"), False) is None
    net = NB201SearchNetwork(C=4, N=1, generator=torch.Generator().manual_seed(0))
    assert create_searcher("single-darts", net, SearcherConfig()).autocast_dtype is None
    if torch.cuda.is_available():
        assert autocast_dtype(torch.device("cuda"), False) is None


@pytest.mark.parametrize("method", ["single-darts", "darts", "pc-darts"])
def test_the_step_runs_its_forward_under_the_resolved_autocast(method: str, batch_factory) -> None:
    """CPU autocast stands in for CUDA's: the step's forward runs in bf16 and still learns finite values,
    and the bf16 alpha gradient points where the fp32 one of the same batch does, far closer than the fp32
    gradient of another batch (bf16's error is small beside minibatch noise). Measured here: cosine
    0.93-0.996 against -0.28-0.13 across batches (seeds 0-2); the threshold leaves room for other CPUs."""
    net = NB201SearchNetwork(C=8, N=1, partial_channels=4 if method == "pc-darts" else 1,
                             edge_normalization=method == "pc-darts", generator=torch.Generator().manual_seed(0))
    searcher = create_searcher(method, net, SearcherConfig(epochs=1))
    batch = batch_factory(1, n=32)
    fp32 = alpha_gradient(searcher, batch, None)
    bf16 = alpha_gradient(searcher, batch, torch.bfloat16)
    other = alpha_gradient(searcher, batch_factory(7, n=32), None)
    assert _cosine(fp32, bf16) > 0.8 and _cosine(fp32, bf16) > _cosine(fp32, other) + 0.5
    seen: list[torch.dtype] = []
    handle = net.classifier.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    searcher.autocast_dtype = torch.bfloat16
    metrics = searcher.step(batch, batch_factory(2, n=32))
    handle.remove()
    assert seen and all(d == torch.bfloat16 for d in seen)
    assert all(math.isfinite(v) for v in metrics.values())
    assert net.alphas.dtype == torch.float32


def test_a_distilling_shrinking_step_runs_under_bf16_autocast() -> None:
    """The adapters read the student's bf16 features: they must run inside the same autocast."""
    layout = reduction_layout(3)
    teacher_net = DartsNetwork(get_space("flex").sample(2, layout=layout, k=2), C=4)
    teacher = FeatureTeacher(teacher_net, teacher_net.stage_end_names())
    net = DartsSearchNetwork(C=4, num_cells=3, nodes=2, ops=DNAD_OPS, mode="per_cell", normalization="node_relu",
                             generator=torch.Generator().manual_seed(0))
    distiller = FeatureDistiller(teacher, net.feature_channels(), teacher.channels((3, 8, 8)))
    searcher = DNADSearcher(net, DNADConfig(epochs=2, warmup_epochs=0, prune_every=1), distiller=distiller,
                            input_size=(3, 8, 8))
    assert searcher.autocast_dtype is None
    searcher.autocast_dtype = torch.bfloat16
    batch = next(iter(BatchLoader(synthetic_images(16, size=8, generator=torch.Generator().manual_seed(0)), 16)))
    metrics = searcher.step(batch)
    assert metrics["kd"] > 0 and all(math.isfinite(v) for v in metrics.values())


@pytest.mark.parametrize("method", ["single-darts", "darts"])
def test_a_bf16_step_issues_no_host_sync(method: str, tiny_network, batches, sync_counter) -> None:
    searcher = create_searcher(method, tiny_network, SearcherConfig(epochs=1))
    searcher.autocast_dtype = torch.bfloat16
    with sync_counter:
        searcher.train_step(batches[0], batches[1])
    assert sync_counter.calls == []


def test_compile_network_compiles_in_place_only_when_asked() -> None:
    net = NB201SearchNetwork(C=4, N=1, generator=torch.Generator().manual_seed(0))
    keys = list(net.state_dict())
    assert compile_network(net, False) is net and net._compiled_call_impl is None
    assert compile_network(net, True) is net and net._compiled_call_impl is not None  # compiles at its first call
    assert list(net.state_dict()) == keys


def _record_compile(monkeypatch, module) -> list[bool]:
    """Replace `module.compile_network` by a recorder (no real compilation: minutes on CPU)."""
    calls: list[bool] = []

    def record(network, enabled):
        calls.append(enabled)
        return network

    monkeypatch.setattr(module, "compile_network", record)
    return calls


def test_search_flags_reach_the_searcher_and_config_json(tmp_path: Path, monkeypatch) -> None:
    calls = _record_compile(monkeypatch, search_run)
    out = tmp_path / "run"
    code = main(["search", "--method", "single-darts", "--data", "synthetic", "--out", str(out), "--channels", "4",
                 "--cells", "1", "--epochs", "1", "--batch-size", "16", "--limit-train", "32", "--device", "cpu",
                 "--no-progress", "--compile", "--no-bf16"])
    saved = json.loads((out / "config.json").read_text())
    assert code == 0 and calls == [True]
    assert saved["compile"] is True and saved["optim"]["mixed_precision"] is False and saved["resolved_autocast"] == "off"
    calls.clear()
    code = main(["search", "--method", "single-darts", "--data", "synthetic", "--out", str(tmp_path / "b"), "--channels",
                 "4", "--cells", "1", "--epochs", "1", "--batch-size", "16", "--limit-train", "32", "--no-progress"])
    saved = json.loads((tmp_path / "b" / "config.json").read_text())
    assert code == 0 and calls == [False] and saved["compile"] is False and saved["optim"]["mixed_precision"] is True


def test_set_search_flags_reach_the_searcher_and_config_json(tmp_path: Path, monkeypatch) -> None:
    calls = _record_compile(monkeypatch, set_search)
    code = main(["search", "--method", "fx-darts", "--space", "darts", "--data", "synthetic", "--out", str(tmp_path),
                 "--channels", "2", "--cells", "3", "--nodes", "2", "--epochs", "1", "--batch-size", "16",
                 "--limit-train", "40", "--no-progress", "--compile", "--no-bf16"])
    saved = json.loads((tmp_path / "config.json").read_text())
    assert code == 0 and calls == [True]
    assert saved["compile"] is True and saved["searcher"]["mixed_precision"] is False


def test_bad_speed_flags_are_refused_before_any_work(tmp_path: Path, capsys) -> None:
    with pytest.raises(ValueError, match="mixed_precision"):
        parse_options(SearcherConfig, ["mixed_precision=maybe"])
    assert parse_options(SearcherConfig, ["mixed_precision=no"]) == {"mixed_precision": False}
    out = tmp_path / "run"
    code = main(["search", "--method", "single-darts", "--data", "synthetic", "--out", str(out),
                 "--option", "mixed_precision=maybe"])
    assert code == 2 and not out.exists() and "mixed_precision" in capsys.readouterr().err
    with pytest.raises(ValueError, match="valid_fraction"):
        TrainConfig(valid_fraction=1.0)


def test_bench_reports_throughput_and_says_which_peak_memory(capsys) -> None:
    stats = benchmark_throughput(BenchConfig(channels=4, cells=1, batch_size=8, image_size=8, steps=1, warmup=0,
                                             device="cpu", compile=False))
    assert stats["cuda"] == 0.0 and stats["peak_memory_mb"] > 10 and stats["images_per_s"] > 0
    assert main(["bench", "--channels", "4", "--cells", "1", "--batch-size", "8", "--steps", "1", "--warmup", "0",
                 "--device", "cpu", "--no-bf16"]) == 0
    line = capsys.readouterr().out
    assert "img/s" in line and "CUDA only" in line and "RSS" in line


def test_train_flags_reach_the_network_and_config_json(tmp_path: Path, monkeypatch) -> None:
    from darts_backend.runs import train as train_run

    calls = _record_compile(monkeypatch, train_run)
    genotype = tmp_path / "g.json"
    genotype.write_text(json.dumps(get_space("flex").sample(0, layout=reduction_layout(3), k=2).to_json()))
    out = tmp_path / "train"
    code = main(["train", "--genotype", str(genotype), "--data", "synthetic", "--out", str(out), "--channels", "2",
                 "--cells", "3", "--epochs", "1", "--batch-size", "16", "--limit-train", "32", "--device", "cpu",
                 "--no-progress", "--compile", "--no-bf16"])
    saved = json.loads((out / "config.json").read_text())
    assert code == 0 and calls == [True]
    assert saved["compile"] is True and saved["mixed_precision"] is False and saved["resolved_autocast"] == "off"
