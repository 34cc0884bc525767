"""Supernet throughput: images per second of full search steps on random 32x32 batches, peak memory and
host syncs.

``space`` picks the supernet: ``nb201`` (C, N cells per stage) or ``darts`` (C, ``cells`` cells in all,
4 nodes, the shared-alpha DARTS supernet). Host syncs are counted on CUDA with
``torch.cuda.set_sync_debug_mode("warn")`` over the timed steps (each synchronizing call warns once);
CPU has no device to wait for, so the count is None there.

Peak memory is ``torch.cuda.max_memory_allocated`` over the timed steps on CUDA (tensors only, not the
allocator's cache). On CPU there is no allocator counter: the figure is the process's peak resident set
size (``resource.getrusage``, Linux: over the whole process lifetime, so it includes Python, torch and
anything run before), an upper bound of what the steps need.
"""

from __future__ import annotations

import contextlib
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from darts_backend.searchers import SearcherConfig, create_searcher, searcher_class
from darts_backend.searchers.base import Batch, Searcher
from darts_backend.spaces import backend_space
from darts_backend.runs.trainer import compile_network, select_device
from darts_backend.errors import ConfigError

__all__ = ["BenchConfig", "benchmark_throughput", "host_syncs"]



@dataclass(frozen=True)
class BenchConfig:
    """Throughput benchmark settings (defaults: B4's NB201 C=16, N=5, batch 64).

    ``partial_channels`` and ``edge_normalization`` set PC-DARTS's supernet options (None: the method's
    defaults, K = 4 with edge normalization for ``pc-darts``, off otherwise); every method runs with its
    default config (``ms-darts``: K = 3 samples). ``mixed_precision``: bfloat16 autocast on CUDA (ignored on
    CPU unless ``cpu_bf16``); ``compile``: ``torch.compile`` the supernet (compilation happens in the untimed
    warm-up steps); ``channels_last``: the network and batches in channels-last memory format (None: on
    CUDA only); ``cpu_bf16``: bf16 autocast on CPU too (a stand-in for CUDA's); ``fp32_mixing``: the
    architecture-weight mixing in float32 under autocast (`darts_backend.supernets.precision`; off by
    default, as in the searchers), to measure what it costs.
    """

    method: str = "single-darts"
    space: str = "nb201"
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
    channels_last: bool | None = None
    cpu_bf16: bool = False
    fp32_mixing: bool = False

    def __post_init__(self) -> None:
        backend_space(self.space)  # ConfigError listing the spaces with a supernet
        if self.steps < 1 or self.warmup < 0:
            raise ConfigError(f"steps must be >= 1 and warmup >= 0, got {self.steps}, {self.warmup}")
        for name in ("channels", "cells", "batch_size", "image_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")


def _peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (``ru_maxrss``: KB on Linux, bytes on macOS; NaN where
    the `resource` module does not exist, as on Windows)."""
    try:
        import resource
    except ImportError:
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def benchmark_throughput(config: BenchConfig = BenchConfig()) -> dict[str, float | None]:
    """Time `config.steps` full searcher steps after `config.warmup` untimed ones.

    A step is what the method does per training batch (Single-DARTS: one forward/backward and both
    updates; DARTS and PC-DARTS: an alpha forward/backward on a valid batch, then a weight one on the
    train batch; MS-DARTS: K forward/backward passes at perturbed alphas, then both updates).

    Returns:
        ``{"seconds_per_step", "images_per_s", "cpu_seconds_per_step", "threads", "peak_memory_mb",
        "cuda", "host_syncs_per_step"}``; images count the training batch only; host syncs are None on
        CPU. CPU seconds (all threads of this process) tell how much of the wall time was this process's own
        work when other programs share the CPU.
        ``peak_memory_mb`` is CUDA's peak allocated memory of the timed steps when ``cuda`` is 1.0, else
        the process's peak RSS (see the module docstring).
    """
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    device = select_device(config.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    channels_last = cuda if config.channels_last is None else config.channels_last
    gen = torch.Generator().manual_seed(config.seed)
    network = _network(config, gen).to(device)
    if channels_last:
        network = network.to(memory_format=torch.channels_last)
    searcher = create_searcher(config.method, compile_network(network, config.compile),
                               SearcherConfig(mixed_precision=config.mixed_precision, fp32_mixing=config.fp32_mixing))
    if config.cpu_bf16 and not cuda and config.mixed_precision:
        searcher.autocast_dtype = torch.bfloat16  # CPU autocast stands in for CUDA's (slower than fp32 here)
    shape = (config.batch_size, 3, config.image_size, config.image_size)

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(shape, generator=gen).to(device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, torch.randint(0, 10, (config.batch_size,), generator=gen).to(device)

    return _time_steps(config, searcher, batch(), batch(), device)


def _time_steps(config: BenchConfig, searcher: Searcher, train: Batch, valid: Batch,
                device: torch.device) -> dict[str, float | None]:
    """Warm-up, then the timed steps: seconds, CPU seconds, peak memory, host syncs."""
    cuda = device.type == "cuda"
    for _ in range(config.warmup):
        searcher.train_step(train, valid)
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start, cpu_start = time.perf_counter(), time.process_time()
    with host_syncs(cuda) as syncs_seen:
        for _ in range(config.steps):
            searcher.train_step(train, valid)
    if cuda:
        torch.cuda.synchronize(device)
    per_step = (time.perf_counter() - start) / config.steps
    cpu_per_step = (time.process_time() - cpu_start) / config.steps
    syncs = len(syncs_seen) / config.steps if cuda else None
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else _peak_rss_mb()
    return {"seconds_per_step": per_step, "images_per_s": config.batch_size / per_step,
            "cpu_seconds_per_step": cpu_per_step, "threads": float(torch.get_num_threads()),
            "peak_memory_mb": peak, "cuda": float(cuda), "host_syncs_per_step": syncs}


@contextlib.contextmanager
def host_syncs(cuda: bool) -> Iterator[list[str]]:
    """Collect the host syncs of the block: with `cuda`, CUDA's sync debug mode warns at each synchronizing
    call, and the messages of those warnings are appended to the yielded list (nothing on CPU)."""
    seen: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if cuda:
            torch.cuda.set_sync_debug_mode("warn")
        try:
            yield seen
        finally:
            if cuda:
                torch.cuda.set_sync_debug_mode("default")
            seen.extend(str(w.message) for w in caught if "synchroniz" in str(w.message))


def _network(config: BenchConfig, generator: torch.Generator) -> torch.nn.Module:
    """The supernet of `config.space` with the method's PC-DARTS defaults unless `config` overrides them."""
    defaults = searcher_class(config.method).network_options
    k = config.partial_channels if config.partial_channels is not None else int(defaults.get("partial_channels", 1))
    edge_norm = config.edge_normalization if config.edge_normalization is not None else \
        bool(defaults.get("edge_normalization", False))
    return backend_space(config.space).supernet(channels=config.channels, cells=config.cells, num_classes=10,
                                                generator=generator, partial_channels=k, edge_normalization=edge_norm)
