"""How far the bf16 alpha gradient is from the fp32 one: the check behind the supernets' fp32 mixing.

For each seed, an NB201 supernet and a few held-out probe batches of images: the gradient of the
cross-entropy with respect to the alphas, once in float32 and once under bf16 autocast, and their
cosine, both as searches run by default (the mixing of op outputs in bf16) and with the supernets'
float32 mixing option (`darts_backend.supernets.precision`). Beside them, the cosine of the float32 gradients of
two *different* probe batches: the minibatch noise that bf16's error should be small against. Each is
measured at initialisation and again after ``trained_steps`` float32 Single-DARTS steps on other images,
because at initialisation the alpha gradient is almost all noise.

CPU autocast supports bf16, so the measurement runs on CPU as well as on CUDA. From the shell:
``python -m darts_backend.runs.precision --images data/cifar10-jpg.tar --seeds 10`` prints `summarize_agreement`
(the README's figures; about 14 minutes on one core).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from darts_backend.data import BatchLoader, load_dataset
from darts_backend.searchers import SearcherConfig, create_searcher
from darts_backend.searchers.base import Batch, Searcher
from darts_backend.supernets import NB201SearchNetwork
from darts_backend.errors import ConfigError

__all__ = ["AgreementConfig", "alpha_gradient", "alpha_gradient_agreement", "summarize_agreement"]


@dataclass(frozen=True)
class AgreementConfig:
    """What to measure: NB201 supernets of ``channels`` x ``cells`` (defaults: the paper size, C=16, N=5),
    ``seeds`` initialisations, ``batches`` probe batches of ``batch_size`` images from ``images`` (a CIFAR-10
    archive or image tar, or ``synthetic``), at each of ``trained_steps`` (0: initialisation), on ``device``."""

    images: str = "synthetic"
    seeds: tuple[int, ...] = (0, 1, 2)
    batches: int = 2
    batch_size: int = 64
    channels: int = 16
    cells: int = 5
    trained_steps: tuple[int, ...] = (0, 40)
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not self.seeds or self.batches < 1 or self.batch_size < 1 or self.channels < 1 or self.cells < 1:
            raise ConfigError("seeds must be non-empty and batches, batch_size, channels, cells >= 1")
        if not self.trained_steps or list(self.trained_steps) != sorted(set(self.trained_steps)) or self.trained_steps[0] < 0:
            raise ConfigError(f"trained_steps must be increasing counts >= 0, got {self.trained_steps}")


def alpha_gradient(searcher: Searcher, batch: Batch, dtype: torch.dtype | None, *,
                   fp32_mixing: bool | None = None) -> torch.Tensor:
    """``(numel,)`` float32 gradient of the searcher's CE loss on `batch` w.r.t. the alphas, with its
    forward under autocast to `dtype` (None: full precision) and, when given, that `fp32_mixing` instead of
    the searcher's own. Leaves no gradient behind and the searcher as it was."""
    previous, config = searcher.autocast_dtype, searcher.config
    searcher.autocast_dtype = dtype
    if fp32_mixing is not None:
        searcher.config = dataclasses.replace(config, fp32_mixing=fp32_mixing)
    try:
        searcher._zero_grad()
        loss, _ = searcher._loss(batch)
        loss.backward()
        grad = searcher.network.alphas.grad.detach().float().flatten().clone()
    finally:
        searcher._zero_grad()
        searcher.autocast_dtype, searcher.config = previous, config
    return grad


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(F.cosine_similarity(a, b, dim=0))


def alpha_gradient_agreement(config: AgreementConfig) -> list[dict[str, float]]:
    """One row per (seed, trained steps, probe batch): ``{"seed", "trained_steps", "batch", "cosine",
    "cosine_fp32_mixing", "cross_batch_cosine", "fp32_norm"}``.

    ``cosine``: bf16 against fp32 on the same batch, as searches run (bf16 mixing); ``cosine_fp32_mixing``:
    the same with the float32 mixing; ``cross_batch_cosine``: fp32 on this batch against fp32 on the next one.
    """
    device = torch.device(config.device)
    probe_images = config.batch_size * (config.batches + 1)
    probe = load_dataset(config.images, limit=probe_images, generator=torch.Generator().manual_seed(0))
    batches = list(BatchLoader(probe, config.batch_size, device=device, augment=False, shuffle=False))
    train_steps = config.trained_steps[-1]
    train = None
    if train_steps:
        train = BatchLoader(load_dataset(config.images, limit=config.batch_size * min(train_steps, 200), offset=probe_images,
                                         generator=torch.Generator().manual_seed(0)), config.batch_size, device=device)
    rows = []
    for seed in config.seeds:
        network = NB201SearchNetwork(C=config.channels, N=config.cells,
                                     generator=torch.Generator().manual_seed(seed)).to(device)
        searcher = create_searcher("single-darts", network, SearcherConfig(mixed_precision=False))
        done = 0
        for steps in config.trained_steps:
            while done < steps:
                assert train is not None
                train.set_epoch(done)
                for batch in train:
                    if done == steps:
                        break
                    searcher.train_step(batch, None)
                    done += 1
            fp32 = [alpha_gradient(searcher, b, None) for b in batches]
            for i in range(config.batches):
                plain = alpha_gradient(searcher, batches[i], torch.bfloat16, fp32_mixing=False)
                upcast = alpha_gradient(searcher, batches[i], torch.bfloat16, fp32_mixing=True)
                rows.append({"seed": seed, "trained_steps": steps, "batch": i, "cosine": _cosine(fp32[i], plain),
                             "cosine_fp32_mixing": _cosine(fp32[i], upcast),
                             "cross_batch_cosine": _cosine(fp32[i], fp32[i + 1]), "fp32_norm": float(fp32[i].norm())})
    return rows


def summarize_agreement(rows: Sequence[dict[str, float]]) -> list[str]:
    """Lines per trained-step count: the cosine as searches run (bf16 mixing) and with the float32 mixing
    option, their paired difference (option minus default), and the minibatch noise."""
    out = []
    for steps in sorted({r["trained_steps"] for r in rows}):
        at = [r for r in rows if r["trained_steps"] == steps]
        for key, label in (("cosine", "bf16 mixing (default)"), ("cosine_fp32_mixing", "fp32 mixing (option)")):
            cos = [r[key] for r in at]
            out.append(f"after {steps} steps, {label}: mean {statistics.mean(cos):.3f}, min {min(cos):.3f}, "
                       f"above 0.95 on {sum(c > 0.95 for c in cos)} of {len(cos)} batches")
        diff = [r["cosine_fp32_mixing"] - r["cosine"] for r in at]
        spread = f" (sd {statistics.stdev(diff):.4f})" if len(diff) > 1 else ""
        noise = statistics.median(abs(r["cross_batch_cosine"]) for r in at)
        out.append(f"after {steps} steps: paired difference fp32 - bf16 mixing {statistics.mean(diff):+.4f}{spread}; "
                   f"two batches' fp32 gradients: median |cosine| {noise:.2f}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Print the agreement summary at the paper size on CPU (``--seeds N``: seeds 0..N-1)."""
    parser = argparse.ArgumentParser(prog="python -m darts_backend.runs.precision", description=__doc__.splitlines()[0])
    parser.add_argument("--images", default="synthetic", help="CIFAR-10 archive or image tar (default synthetic)")
    parser.add_argument("--seeds", type=int, default=10, help="supernet seeds 0..N-1 (default 10)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.threads < 1:
        parser.error("--seeds and --threads must be >= 1")
    torch.set_num_threads(args.threads)
    rows = alpha_gradient_agreement(AgreementConfig(images=args.images, seeds=tuple(range(args.seeds)), device=args.device))
    print("\n".join(summarize_agreement(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
