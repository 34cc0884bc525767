"""`darts-backend gpu-check`: every section present in both files, time boxes, refusals; and the float32
architecture-weight mixing under autocast (CPU bf16 autocast stands in for CUDA's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from darts_backend.cli import main
from darts_backend.gpu_check.harness import _run_child, run_gpu_check
from darts_backend.gpu_check.plan import SECTIONS, GpuCheckConfig
from darts_backend.runs.bench import BenchConfig, benchmark_throughput
from darts_backend.runs.precision import AgreementConfig, alpha_gradient_agreement
from darts_backend.supernets import DartsSearchNetwork, NB201SearchNetwork
from darts_backend.supernets.nb201 import NB201SearchCell
from darts_backend.supernets.precision import fp32_mixing

STATUSES = {"ok", "partial", "skipped", "failed"}


def test_quick_cpu_check_writes_every_section_to_both_files(tmp_path: Path, data_store, capsys) -> None:
    out = tmp_path / "check"
    assert main(["gpu-check", "--quick", "--device", "cpu", "--out", str(out)]) == 0
    document = json.loads((out / "gpu_check.json").read_text())
    markdown = (out / "gpu_check.md").read_text()
    sections = document["sections"]
    assert list(sections) == list(SECTIONS)
    for name, section in sections.items():
        assert section["status"] in STATUSES and f"## {name}: " in markdown
        assert section["status"] != "failed", (name, section["reason"])
        assert section["status"] == "ok" or section["reason"], name  # a section that is not ok says why
        assert section["rows"], name  # measured, or skipped with a reason: never empty
    env = sections["environment"]["rows"][0]
    assert env["torch"] == torch.__version__ and env["requested_device"] == "cpu"
    tests = sections["gpu_tests"]
    assert all(r["outcome"] in ("skipped", "passed") for r in tests["rows"]) and len(tests["rows"]) >= 3
    if not torch.cuda.is_available():
        assert tests["status"] == "skipped" and "CUDA" in tests["reason"]
    agreement = sections["alpha_gradient"]["rows"]
    assert [r["trained_steps"] for r in agreement] == [0, 2]
    assert all(-1 <= r[k] <= 1 for r in agreement for k in ("cosine", "cosine_fp32_mixing"))
    assert all(r["cosine"] != r["cosine_fp32_mixing"] for r in agreement)
    assert "after 2 steps, fp32 mixing (option)" in markdown and "paired difference" in markdown
    throughput = sections["throughput"]["rows"]
    assert {r["space"] for r in throughput} == {"nb201", "darts"}
    measured = [r for r in throughput if "images_per_s" in r]
    assert measured and all(r["images_per_s"] > 0 and r["host_syncs_per_step"] is None for r in measured)
    assert all("skipped" in r for r in throughput if "compile" in r["variant"])  # quick never compiles, and says so
    epochs = sections["epochs"]["rows"]
    assert [r["method"] for r in epochs] == ["single-darts", "pc-darts", "dnad"]
    assert all(r["genotype"] and r["seconds"] > 0 for r in epochs)
    search = sections["crlso_search"]["rows"][0]
    assert search["model_device"] == "cpu" and search["joint_fit_seconds"]
    assert sections["rank_bench"]["rows"][0]["process_seconds"] > 0
    assert "results in" in capsys.readouterr().out


def test_a_section_whose_time_box_runs_out_skips_the_rest_and_says_so(tmp_path: Path) -> None:
    config = GpuCheckConfig(out=str(tmp_path), device="cpu", quick=True, budget_seconds=10,
                            skip=tuple(s for s in SECTIONS if s != "epochs"))
    document = run_gpu_check(config, log=lambda *a, **k: None)
    epochs = document["sections"]["epochs"]
    assert epochs["status"] == "skipped" and "time box" in epochs["reason"]  # 2.7 s cannot hold three searches
    assert all(r["timed_out"] for r in epochs["rows"]) and len(epochs["rows"]) == 3
    assert all(document["sections"][s]["status"] == "skipped" for s in SECTIONS if s != "epochs")


def test_a_child_still_running_at_its_timeout_is_killed_and_its_rows_are_kept(tmp_path: Path) -> None:
    """A tiny measurement, then one that takes about half a minute here: the child is killed at 15 s; the
    first row stays (where the machine was too slow to write it, the section says it failed before a row)."""
    spec = {"device": "cpu", "quick": False, "images": "synthetic", "out": str(tmp_path), "steps": 5, "warmup": 0,
            "nets": [["nb201", 4, 1], ["nb201", 32, 5]], "batches": [128], "variants": ["fp32"]}
    section = _run_child("throughput", spec, tmp_path, 15.0)
    assert section["status"] in ("partial", "failed") and "killed after its time box of 15 s" in section["reason"]
    assert section["seconds"] < 30
    if section["status"] == "partial":
        assert [r["C"] for r in section["rows"]] == [4] and section["rows"][0]["images_per_s"] > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal where CUDA is absent")
def test_cuda_without_cuda_is_a_one_line_error_before_any_work(tmp_path: Path, capsys) -> None:
    out = tmp_path / "never"
    assert main(["gpu-check", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "CUDA" in err and not out.exists()


@pytest.mark.parametrize("argv, word", [(["--skip", "nope"], "nope"), (["--budget", "1"], "budget"),
                                        (["--device", "cpu", "--images", "/no/such.tar"], "no such")])
def test_bad_options_are_refused(tmp_path: Path, capsys, argv: list[str], word: str) -> None:
    assert main(["gpu-check", "--out", str(tmp_path / "x"), "--device", "cpu", *argv]) == 2
    assert word in capsys.readouterr().err


def _node_dtypes(network: torch.nn.Module, cell_type: type, mixing: bool) -> list[torch.dtype]:
    seen: list[torch.dtype] = []
    handles = [m.register_forward_hook(lambda m, i, o: seen.append(o.dtype)) for m in network.modules()
               if isinstance(m, cell_type)]
    x = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with fp32_mixing(mixing), torch.autocast("cpu", dtype=torch.bfloat16):
        logits = network(x)
    logits.float().sum().backward()
    for h in handles:
        h.remove()
    assert network.alphas.grad is not None and torch.isfinite(network.alphas.grad).all()
    return seen


@pytest.mark.parametrize("kind", ["nb201", "nb201-pc", "darts", "darts-pc"])
def test_the_mixing_runs_in_float32_under_autocast_when_asked(kind: str) -> None:
    """With the float32 mixing on, the cells' outputs (weighted sums of op outputs) are float32 under bf16
    autocast; with it off (the default) they are bf16."""
    gen = torch.Generator().manual_seed(0)
    pc = dict(partial_channels=2, edge_normalization=True) if kind.endswith("-pc") else {}
    if kind.startswith("nb201"):
        network, cell = NB201SearchNetwork(C=4, N=1, generator=gen, **pc), NB201SearchCell
    else:
        network = DartsSearchNetwork(C=4, num_cells=3, nodes=2, generator=gen, **pc)
        cell = type(network.cells[0])
    assert set(_node_dtypes(network, cell, True)) == {torch.float32}
    network.zero_grad()
    assert set(_node_dtypes(network, cell, False)) == {torch.bfloat16}


def test_the_agreement_measure_compares_bf16_with_fp32_on_the_same_batch() -> None:
    rows = alpha_gradient_agreement(AgreementConfig(seeds=(0,), batches=2, batch_size=8, channels=4, cells=1,
                                                    trained_steps=(0, 3)))
    assert [(r["trained_steps"], r["batch"]) for r in rows] == [(0, 0), (0, 1), (3, 0), (3, 1)]
    assert all(r["fp32_norm"] > 0 and r["cosine"] > 0.8 and r["cosine_fp32_mixing"] > 0.8 for r in rows)
    assert all(r["cosine"] > abs(r["cross_batch_cosine"]) for r in rows)
    assert all(r["cosine"] != r["cosine_fp32_mixing"] for r in rows)  # the option really changed the forward
    assert rows[0]["fp32_norm"] != rows[2]["fp32_norm"]  # the steps trained the supernet
    with pytest.raises(ValueError, match="trained_steps"):
        AgreementConfig(trained_steps=(5, 0))


def test_bench_runs_the_darts_supernet_and_counts_no_syncs_on_cpu() -> None:
    stats = benchmark_throughput(BenchConfig(space="darts", channels=4, cells=3, batch_size=4, image_size=8, steps=1,
                                             warmup=0, device="cpu", channels_last=True))
    assert stats["images_per_s"] > 0 and stats["host_syncs_per_step"] is None
    with pytest.raises(ValueError, match="space"):
        BenchConfig(space="nb101")


def test_searchers_enter_the_fp32_mixing_of_their_config_under_autocast(batch_factory) -> None:
    from darts_backend.searchers import SearcherConfig, create_searcher

    seen: list[torch.dtype] = []
    for option in (False, True):
        net = NB201SearchNetwork(C=4, N=1, generator=torch.Generator().manual_seed(0))
        handle = net.layers[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
        searcher = create_searcher("single-darts", net, SearcherConfig(fp32_mixing=option))
        searcher.autocast_dtype = torch.bfloat16
        searcher.step(batch_factory(0, n=8))
        handle.remove()
    assert seen == [torch.bfloat16, torch.float32]


def test_bench_cli_takes_the_space_cpu_bf16_and_the_mixing(capsys) -> None:
    assert main(["bench", "--space", "darts", "--channels", "4", "--cells", "3", "--batch-size", "4", "--steps", "1",
                 "--warmup", "0", "--device", "cpu", "--cpu-bf16", "--fp32-mixing"]) == 0
    assert "img/s" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["bench", "--space", "nb101"])
