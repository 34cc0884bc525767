"""What `darts-backend gpu-check` runs: the sections in order, their sizes and their time boxes.

Full size (a GPU slot, at most 8 minutes on one H100): B4 at paper size (NB201 C=16 N=5, DARTS C=16 and 8
cells; batches 64 and 256), one epoch of the paper presets of Single-DARTS (NB201), PC-DARTS and DNAD
(DARTS space), a 100-query ``crlso search`` and a ``crlso rank-bench`` fit. ``quick``: the same steps at
toy sizes (seconds each on a CPU), so the command stays healthy between GPU slots.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from darts_backend.errors import ConfigError

__all__ = ["SECTIONS", "GpuCheckConfig", "section_budgets", "section_spec"]

SECTIONS: tuple[str, ...] = ("environment", "gpu_tests", "alpha_gradient", "throughput", "epochs", "crlso_search",
                             "rank_bench")
"""Every section, in the order they run; each appears in both files, measured or skipped with a reason."""

# Share of the whole budget each section may use (the environment's is for importing torch and starting CUDA).
_SHARES = {"environment": 0.04, "gpu_tests": 0.10, "alpha_gradient": 0.10, "throughput": 0.25, "epochs": 0.25,
           "crlso_search": 0.16, "rank_bench": 0.10}
DEVICES = ("cuda", "cpu")


@dataclass(frozen=True)
class GpuCheckConfig:
    """Options of one check.

    Attributes:
        out: folder of ``gpu_check.json``, ``gpu_check.md`` and the sections' run folders.
        device: ``cuda`` (the GPU slot) or ``cpu`` (a stand-in: CPU bf16 autocast where a section needs one).
        quick: toy sizes.
        images: CIFAR-10 archive or image tar for the alpha gradient and the epochs (None: ``data/cifar10-jpg.tar``
            when present, else synthetic images, said in the report).
        budget_seconds: the whole check's time (default 480 s: 8 minutes); each section gets its share.
        skip: sections not to run (reported as skipped, never left out).
    """

    out: str
    device: str = "cuda"
    quick: bool = False
    images: str | None = None
    budget_seconds: float = 480.0
    skip: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ConfigError(f"unknown gpu-check device {self.device!r}; valid: {', '.join(DEVICES)}")
        if not str(self.out).strip():
            raise ConfigError("--out must name a folder, got an empty path")
        if not (10 <= self.budget_seconds <= 3600):
            raise ConfigError(f"budget must be 10..3600 seconds, got {self.budget_seconds:g}")
        unknown = [s for s in self.skip if s not in SECTIONS]
        if unknown:
            raise ConfigError(f"unknown section(s) {', '.join(unknown)} in --skip; valid: {', '.join(SECTIONS)}")

    def resolved_images(self) -> tuple[str, str]:
        """(images source, how it was chosen)."""
        if self.images is not None:
            if self.images != "synthetic" and not Path(self.images).exists():
                raise ConfigError(f"--images {self.images}: no such file or folder")
            return self.images, "given"
        default = Path("data/cifar10-jpg.tar")
        if default.is_file():
            return str(default), "default data/cifar10-jpg.tar"
        return "synthetic", "synthetic: data/cifar10-jpg.tar is absent (crlso data fetch cifar10-jpg, mirror only)"


def section_budgets(config: GpuCheckConfig) -> dict[str, float]:
    """Seconds each section may take."""
    return {name: _SHARES[name] * config.budget_seconds for name in SECTIONS}


def section_spec(config: GpuCheckConfig, name: str, images: str) -> dict[str, Any]:
    """The sizes one section runs at (JSON-able; the child process reads it)."""
    q = config.quick
    spec: dict[str, Any] = {"device": config.device, "quick": q, "images": images, "out": config.out}
    if name == "alpha_gradient":
        spec.update(seeds=[0] if q else [0, 1, 2], batches=1 if q else 2, batch_size=16 if q else 64,
                    channels=4 if q else 16, cells=1 if q else 5, trained_steps=[0, 2] if q else [0, 40])
    elif name == "throughput":
        spec.update(nets=[["nb201", 4, 1], ["darts", 4, 3]] if q else [["nb201", 16, 5], ["darts", 16, 8]],
                    batches=[8, 16] if q else [64, 256], steps=1 if q else 5, warmup=1 if q else 2,
                    variants=["fp32", "bf16", "bf16+fp32_mixing", "bf16+channels_last", "fp32+compile",
                              "bf16+channels_last+compile"])
    elif name == "epochs":
        # 10,000 of CIFAR-10's 50,000 training images: each run decodes its images first (about 1 s per 1,000 on
        # one core), and three decodes of all 50,000 would eat the section; the full epoch's time is extrapolated
        images = 96 if q else 10000
        toy = ["--channels", "4", "--batch-size", "16"] if q else []
        spec.update(limit_train=images, runs=[
            {"method": "single-darts", "space": "nb201", "preset": "paper", "extra": toy + (["--cells", "1"] if q else [])},
            # the paper preset's first 15 epochs take no architecture step: with one epoch, one is wanted
            {"method": "pc-darts", "space": "darts", "preset": "paper",
             "extra": toy + (["--cells", "3"] if q else []) + ["--option", "arch_warmup_epochs=0"]},
            # dnad's paper preset distils from a trained C=36 teacher we do not have: its cpu preset at paper sizes
            {"method": "dnad", "space": "darts", "preset": "cpu",
             "extra": toy + (["--cells", "3"] if q else ["--channels", "16", "--cells", "8", "--batch-size", "128"])}])
    elif name == "crlso_search":
        tiny = ['n_init=8', 'batch_size=4', 'predictor_epochs=20', 'predictor_refit_epochs=5', 'icnn_steps=20',
                'icnn_refit_steps=5', 'pseudo_size=256',
                'model={"gnn_hidden": 16, "gnn_layers": 2, "latent_dim": 8, "decoder_hidden": 32, "decoder_blocks": 1,'
                ' "icnn_hidden": 16, "predictor_hidden": 16, "predictor_layers": 2}',
                'pretrain={"epochs": 1, "batch_size": 1024}']
        spec.update(budget=16 if q else 100, options=tiny if q else [])
    elif name == "rank_bench":
        spec.update(n=20 if q else 100, ensemble=1 if q else None, epochs=5 if q else None, pretrain_epochs=1 if q else None)
    return spec


def config_json(config: GpuCheckConfig) -> dict[str, Any]:
    """The config as written into ``gpu_check.json``."""
    return {**asdict(config), "skip": list(config.skip)}
