"""Supernet throughput: images per second of full search steps on random 32x32 batches, and peak memory.

Peak memory is ``torch.cuda.max_memory_allocated`` over the timed steps on CUDA (tensors only, not the
allocator's cache). On CPU there is no allocator counter: the figure is the process's peak resident set
size (``resource.getrusage``, Linux: over the whole process lifetime, so it includes Python, torch and
anything run before), an upper bound of what the steps need.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import torch

from darts_backend.searchers import SearcherConfig, create_searcher, searcher_class
from darts_backend.supernets import NB201SearchNetwork
from darts_backend.runs.trainer import compile_network, select_device

__all__ = ["BenchConfig", "benchmark_throughput"]


@dataclass(frozen=True)
class BenchConfig:
    """Throughput benchmark settings (defaults: B4's NB201 C=16, N=5, batch 64).

    ``partial_channels`` and ``edge_normalization`` set PC-DARTS's supernet options (None: the method's
    defaults, K = 4 with edge normalization for ``pc-darts``, off otherwise); every method runs with its
    default config (``ms-darts``: K = 3 samples). ``mixed_precision``: bfloat16 autocast on CUDA (ignored on
    CPU); ``compile``: ``torch.compile`` the supernet (compilation happens in the untimed warm-up steps).
    """

    method: str = "single-darts"
    channels: int = 16
    cells: int = 5
    batch_size: int = 64
    image_size: int = 32
    steps: int = 5
    warmup: int = 2
    device: str = "auto"
    threads: int | None = None
    seed: int = 0
    partial_channels: int | None = None
    edge_normalization: bool | None = None
    mixed_precision: bool = True
    compile: bool = False


def _peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (``ru_maxrss``: KB on Linux, bytes on macOS; NaN where
    the `resource` module does not exist, as on Windows)."""
    try:
        import resource
    except ImportError:
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def benchmark_throughput(config: BenchConfig = BenchConfig()) -> dict[str, float]:
    """Time `config.steps` full searcher steps after `config.warmup` untimed ones.

    A step is what the method does per training batch (Single-DARTS: one forward/backward and both
    updates; DARTS and PC-DARTS: an alpha forward/backward on a valid batch, then a weight one on the
    train batch; MS-DARTS: K forward/backward passes at perturbed alphas, then both updates).

    Returns:
        ``{"seconds_per_step", "images_per_s", "cpu_seconds_per_step", "threads", "peak_memory_mb",
        "cuda"}``; images count the training batch only. CPU seconds (all threads of this process) tell
        how much of the wall time was this process's own work when other programs share the CPU.
        ``peak_memory_mb`` is CUDA's peak allocated memory of the timed steps when ``cuda`` is 1.0, else
        the process's peak RSS (see the module docstring).
    """
    if config.steps < 1 or config.warmup < 0:
        raise ValueError(f"steps must be >= 1 and warmup >= 0, got {config.steps}, {config.warmup}")
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    device = select_device(config.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    gen = torch.Generator().manual_seed(config.seed)
    defaults = searcher_class(config.method).network_options
    k = config.partial_channels if config.partial_channels is not None else int(defaults.get("partial_channels", 1))
    edge_norm = config.edge_normalization if config.edge_normalization is not None else \
        bool(defaults.get("edge_normalization", False))
    network = NB201SearchNetwork(C=config.channels, N=config.cells, partial_channels=k, edge_normalization=edge_norm,
                                 generator=gen).to(device)
    if device.type == "cuda":
        network = network.to(memory_format=torch.channels_last)
    searcher = create_searcher(config.method, compile_network(network, config.compile),
                               SearcherConfig(mixed_precision=config.mixed_precision))
    shape = (config.batch_size, 3, config.image_size, config.image_size)

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(shape, generator=gen).to(device)
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        return x, torch.randint(0, 10, (config.batch_size,), generator=gen).to(device)

    train, valid = batch(), batch()
    for _ in range(config.warmup):
        searcher.train_step(train, valid)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(config.steps):
        searcher.train_step(train, valid)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    per_step = (time.perf_counter() - start) / config.steps
    cpu_per_step = (time.process_time() - cpu_start) / config.steps
    cuda = device.type == "cuda"
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else _peak_rss_mb()
    return {"seconds_per_step": per_step, "images_per_s": config.batch_size / per_step,
            "cpu_seconds_per_step": cpu_per_step, "threads": float(torch.get_num_threads()),
            "peak_memory_mb": peak, "cuda": float(cuda)}
