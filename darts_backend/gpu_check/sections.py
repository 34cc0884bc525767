"""The measurements of `darts-backend gpu-check`, one function per section.

Each runs in a child process (``python -m darts_backend.gpu_check.sections NAME SPEC_JSON ROWS_JSONL
DEADLINE``) and appends one JSON row per measurement to ``ROWS_JSONL`` as soon as it has it, so a child
killed at its time box still leaves what it measured. A row either holds figures or says
``{"skipped": reason}``. Sections that run whole commands (an epoch of a search, a ``crlso`` search) start
them as processes of their own with the time left as their timeout; the ``crlso`` commands run through
the ``crlso`` program, so darts_backend never imports crlso.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["SECTION_FUNCTIONS", "run_section"]

Emit = Callable[[dict[str, Any]], None]
TIMED_OUT = {"skipped": "the section's time box ran out", "timed_out": True}


def _environment(spec: dict[str, Any], emit: Emit, deadline: float) -> None:
    """torch, CUDA and cuDNN versions; the device's name and memory."""
    import torch

    row: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                           "cuda_runtime": torch.version.cuda, "cpu_count": os.cpu_count(),
                           "cuda_available": torch.cuda.is_available(), "requested_device": spec["device"]}
    if spec["device"] == "cuda":
        props = torch.cuda.get_device_properties(0)
        row.update(device_name=props.name, device_memory_gb=round(props.total_memory / 2**30, 1),
                   cudnn=torch.backends.cudnn.version(), bf16_supported=torch.cuda.is_bf16_supported(),
                   capability=f"{props.major}.{props.minor}", device_count=torch.cuda.device_count())
    else:
        pages, page = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        row.update(device_name=platform.processor() or platform.machine(), device_memory_gb=round(pages * page / 2**30, 1),
                   cudnn=None, bf16_supported=None)
    emit(row)


def _gpu_tests(spec: dict[str, Any], emit: Emit, deadline: float) -> None:
    """The ``gpu``-marked tests through pytest, one row per test with its outcome."""
    tests = Path(__file__).resolve().parents[2] / "tests"
    if not tests.is_dir():
        emit({"skipped": f"no tests folder beside the package ({tests}): run from a source checkout"})
        return
    files = sorted(str(p) for p in tests.rglob("test_*.py") if "pytest.mark.gpu" in p.read_text(encoding="utf-8"))
    if not files:
        emit({"skipped": "no gpu-marked test found"})
        return
    report = Path(spec["out"]) / "gpu_tests.xml"
    report.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "gpu", f"--junitxml={report}", *files]
    completed, _ = _run(command, deadline)
    if completed is None:
        emit({**TIMED_OUT, "skipped": "pytest did not finish within the section's time box"})
        return
    if not report.is_file():
        emit({"error": f"pytest exited {completed.returncode} and wrote no report", "output": completed.stdout[-2000:]})
        return
    for case in ET.parse(report).getroot().iter("testcase"):
        outcome, detail = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                detail = (node.get("message") or "")[:500]
        row = {"test": f"{case.get('classname')}::{case.get('name')}", "outcome": outcome, "detail": detail,
               "seconds": float(case.get("time") or 0.0)}
        emit({**row, "skipped": detail or "skipped"} if outcome == "skipped" else row)


def _alpha_gradient(spec: dict[str, Any], emit: Emit, deadline: float) -> None:
    """Cosine of the bf16 and fp32 alpha gradients, as searches run and with the fp32 mixing option, at
    initialisation and after some training steps; one seed at a time, while the time box lasts."""
    from darts_backend.runs.precision import AgreementConfig, alpha_gradient_agreement

    for seed in spec["seeds"]:
        if time.time() > deadline:
            emit({"seed": seed, **TIMED_OUT})
            continue
        config = AgreementConfig(images=spec["images"], seeds=(seed,), batches=spec["batches"],
                                 batch_size=spec["batch_size"], channels=spec["channels"], cells=spec["cells"],
                                 trained_steps=tuple(spec["trained_steps"]), device=spec["device"])
        try:
            rows = alpha_gradient_agreement(config)
        except Exception as exc:  # one seed's failure (e.g. out of memory) is a row; the next seed still runs
            emit({"seed": seed, "error": f"{type(exc).__name__}: {exc}"})
            continue
        for row in rows:
            emit({"C": config.channels, "N": config.cells, "batch_size": config.batch_size, **row})


def _throughput(spec: dict[str, Any], emit: Emit, deadline: float) -> None:
    """B4: images/s, peak memory and host syncs per step for each net, batch and precision variant; every
    eager variant first, the compiled ones (minutes of compilation each) after them."""
    import torch

    from darts_backend.runs.bench import BenchConfig, benchmark_throughput

    plan = [(net, batch, variant) for compiled in (False, True) for net in spec["nets"] for batch in spec["batches"]
            for variant in spec["variants"] if ("compile" in variant) == compiled]
    for (space, channels, cells), batch, variant in plan:
        row: dict[str, Any] = {"space": space, "C": channels, "cells": cells, "batch_size": batch, "variant": variant}
        if "compile" in variant and spec["quick"]:
            emit({**row, "skipped": "--quick does not compile (minutes per network on a CPU)"})
            continue
        if time.time() > deadline:
            emit({**row, **TIMED_OUT})
            continue
        config = BenchConfig(space=space, channels=channels, cells=cells, batch_size=batch, steps=spec["steps"],
                             warmup=spec["warmup"], device=spec["device"], mixed_precision="bf16" in variant,
                             cpu_bf16=True, channels_last="channels_last" in variant, compile="compile" in variant,
                             fp32_mixing="fp32_mixing" in variant)
        try:
            stats = benchmark_throughput(config)
        except Exception as exc:  # out of memory, a compile failure: a row; the next variant still runs
            emit({**row, "error": f"{type(exc).__name__}: {str(exc)[:300]}"})
            continue
        finally:
            if spec["device"] == "cuda":
                torch.cuda.empty_cache()
        emit({**row, **{k: v for k, v in stats.items() if k != "cuda"}})


def _epochs(spec: dict[str, Any], emit: Emit, deadline: float) -> None:
    """One epoch of each search through ``darts-backend search``: wall time, final alphas, derived genotype."""
    runs = spec["runs"]
    for i, run in enumerate(runs):
        row = {"method": run["method"], "space": run["space"]}
        left = deadline - time.time()
        if left < 5:
            emit({**row, **TIMED_OUT})
            continue
        out = _fresh_folder(Path(spec["out"]) / "epochs" / run["method"])
        preset, extra = run["preset"], list(run["extra"])
        command = [sys.executable, "-m", "darts_backend.cli", "search", "--method", run["method"], "--space", run["space"],
                   "--data", spec["images"], "--preset", preset, "--epochs", "1", "--out", str(out),
                   "--device", spec["device"], "--no-progress", "--limit-train", str(spec["limit_train"]), *extra]
        start = time.time()
        share = left / (len(runs) - i)
        completed, stderr = _run(command, start + share)
        seconds = time.time() - start
        if completed is None:
            emit({**row, **TIMED_OUT, "skipped": f"did not finish one epoch within its {share:.0f} s share",
                  "stderr_tail": stderr})
        elif completed.returncode != 0:
            emit({**row, "error": f"exit {completed.returncode}: {stderr}", "seconds": seconds})
        else:
            emit({**row, "preset": preset, "images": spec["limit_train"], "seconds": round(seconds, 1),
                  **_search_outcome(out, spec["limit_train"])})


def _search_outcome(out: Path, images: int) -> dict[str, Any]:
    """The epoch's own time and images/s, the derived genotype(s) and the last alpha probabilities of a
    finished search folder; the epoch time on all 50,000 CIFAR-10 training images, scaled from `images`."""
    result: dict[str, Any] = {}
    metrics = out / "metrics.jsonl"
    if metrics.is_file():
        last = json.loads(metrics.read_text().strip().splitlines()[-1])
        result.update(epoch_seconds=last.get("seconds"), images_per_s=last.get("images_per_s"),
                      full_epoch_seconds_estimate=round(last.get("seconds", 0.0) * 50000 / images, 1))
    for name in ("genotype.json", "genotypes.json"):
        if (out / name).is_file():
            found = json.loads((out / name).read_text())
            found = found if isinstance(found, list) else [found]
            result["genotype"] = [g.get("string", g) if isinstance(g, dict) else g for g in found]
    if (out / "alphas.json").is_file():
        history = json.loads((out / "alphas.json").read_text()).get("history") or [{}]
        result["final_alphas"] = history[-1].get("alphas")
    return result


def _crlso_search(spec: dict[str, Any], emit: Emit, deadline: float) -> None:
    """A ``crlso search --method crlso`` on the device and on the CPU: wall time and each joint fit's time."""

    def command(program: str, device: str, out: Path, cache: Path) -> list[str]:
        options = [part for option in spec["options"] for part in ("--option", option)]
        return [program, "search", "--method", "crlso", "--space", "nb201", "--dataset", "cifar10", "--budget",
                str(spec["budget"]), "--seed", "0", "--out", str(out), "--device", device,
                "--cache-dir", str(cache), *options]

    def result(out: Path, completed: subprocess.CompletedProcess[str]) -> dict[str, Any]:
        summary = json.loads((out / "summary.json").read_text())
        stats = summary.get("searcher_stats", {})
        return {"search_seconds": round(summary.get("wall_seconds", 0.0), 1), "best": summary.get("best"),
                "joint_fit_seconds": stats.get("joint_fit_seconds"), "model_device": stats.get("device")}

    _crlso_on_each_device(spec, emit, deadline, "crlso-search", {"budget": spec["budget"]}, command, result)


def _rank_bench(spec: dict[str, Any], emit: Emit, deadline: float) -> None:
    """A ``crlso rank-bench`` (GNN ensemble fits) on the device and on the CPU: wall time and the last lines of
    its table (Kendall tau and the other figures per n)."""

    def command(program: str, device: str, out: Path, cache: Path) -> list[str]:
        quick = ["--no-warm-start", "--ensemble", str(spec["ensemble"]), "--epochs", str(spec["epochs"])]
        return [program, "rank-bench", "--space", "nb201", "--n", str(spec["n"]), "--seeds", "1", "--out", str(out),
                "--device", device, "--cache-dir", str(cache), *(quick if spec["quick"] else [])]

    def result(out: Path, completed: subprocess.CompletedProcess[str]) -> dict[str, Any]:
        return {"table_tail": completed.stdout.strip().splitlines()[-3:]}

    _crlso_on_each_device(spec, emit, deadline, "rank-bench", {"n": spec["n"]}, command, result)


def _crlso_on_each_device(spec: dict[str, Any], emit: Emit, deadline: float, folder: str, info: dict[str, Any],
                          command: Callable[[str, str, Path, Path], list[str]],
                          result: Callable[[Path, subprocess.CompletedProcess[str]], dict[str, Any]]) -> None:
    """Run a ``crlso`` command on the checked device, then on the CPU, each with half the time left; one row each.

    Both share one model cache under ``OUT``: the first run pre-trains the unlabelled VAE into it (its
    ``process_seconds`` include that; ``pretrained_here`` says so), the second reads it."""
    beside = Path(sys.executable).with_name("crlso")  # the crlso of this interpreter, before any other on PATH
    program = str(beside) if beside.is_file() else shutil.which("crlso")
    if program is None:
        emit({"skipped": "the crlso program is not installed (pip install -e .)"})
        return
    cache = Path(spec["out"]) / "crlso-cache"
    devices = [spec["device"], "cpu"] if spec["device"] != "cpu" else ["cpu"]
    for i, device in enumerate(devices):
        left = deadline - time.time()
        row = {"device": device, **info}
        if left < 5:
            emit({**row, **TIMED_OUT})
            continue
        out = _fresh_folder(Path(spec["out"]) / folder / device)
        cold = not (cache.is_dir() and any(cache.iterdir()))
        start = time.time()
        completed, stderr = _run(command(program, device, out, cache), start + left / (len(devices) - i))
        if completed is None:
            emit({**row, **TIMED_OUT, "skipped": "its share of the time box ran out", "stderr_tail": stderr})
        elif completed.returncode != 0:
            emit({**row, "error": f"exit {completed.returncode}: {stderr}"})
        else:
            emit({**row, "process_seconds": round(time.time() - start, 1), "pretrained_here": cold,
                  **result(out, completed)})


def _run(command: list[str], deadline: float) -> tuple[subprocess.CompletedProcess[str] | None, str]:
    """Run `command` until `deadline` (epoch seconds): (the finished process, or None when it had to be
    killed; the last 3 lines of its standard error either way)."""
    try:
        completed = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                   timeout=max(1.0, deadline - time.time()))
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return None, " / ".join(err.strip().splitlines()[-3:])
    return completed, " / ".join(completed.stderr.strip().splitlines()[-3:])


def _fresh_folder(path: Path) -> Path:
    """`path`, emptied: a run folder left by an earlier check would be resumed or refused, not measured."""
    shutil.rmtree(path, ignore_errors=True)
    return path


SECTION_FUNCTIONS: dict[str, Callable[[dict[str, Any], Emit, float], None]] = {
    "environment": _environment, "gpu_tests": _gpu_tests, "alpha_gradient": _alpha_gradient,
    "throughput": _throughput, "epochs": _epochs, "crlso_search": _crlso_search, "rank_bench": _rank_bench}


def run_section(name: str, spec: dict[str, Any], rows_path: Path, deadline: float) -> None:
    """Run section `name`, appending its rows to `rows_path` (one JSON object a line, flushed at once)."""
    with open(rows_path, "a", encoding="utf-8") as rows:

        def emit(row: dict[str, Any]) -> None:
            rows.write(json.dumps(row, default=str) + "\n")
            rows.flush()

        SECTION_FUNCTIONS[name](spec, emit, deadline)


if __name__ == "__main__":
    run_section(sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4]))
