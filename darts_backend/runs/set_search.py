"""A DARTS-space search run: data, flexible supernet, optional teacher, DNAD / FX-DARTS, result files.

Run folder: ``config.json``, ``metrics.jsonl``, ``alphas.json``, ``checkpoint.pt`` (every epoch; resume
from it), ``genotypes.json`` (the emitted set: a JSON list of shared-format ``flex`` genotypes, each
with ``params`` and ``flops`` in millions, ``search_acc``, and the step/epoch/reason of its snapshot),
``pareto.png`` (params vs search accuracy of the set) and ``result.json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from darts_backend.data import BatchLoader, load_dataset
from darts_backend.searchers.distill import FeatureDistiller, FeatureTeacher
from darts_backend.runs.files import checkpoint_errors, load_checkpoint, locked_run, write_json
from darts_backend.runs.presets import PRESETS
from darts_backend.networks.darts import DartsNetwork
from darts_backend.searchers.dnad import DNADConfig, DNADSearcher
from darts_backend.searchers.fx_darts import FXDartsConfig, FXDartsSearcher
from darts_backend.searchers.shrinking import ShrinkingSearcher
from darts_backend.supernets.darts import DartsSearchNetwork
from darts_backend.runs.train import load_genotype_file
from darts_backend.runs.trainer import SearchTrainer, TrainerConfig, load_run_checkpoint, prepare_run
from nasspace.atomic import atomic_path
from nasspace.options import AT_LEAST_ONE, Bounds, check_numbers
from nasspace.flex import DNAD_OPS, FLEX_OPS
from nasspace.space import get_space

__all__ = ["SPACES", "METHODS", "DartsSearchConfig", "run_darts_search", "load_search_network", "plot_set"]

SPACES = ("darts",)
METHODS: dict[str, tuple[type[ShrinkingSearcher], str, tuple[str, ...]]] = {
    "dnad": (DNADSearcher, "node_relu", DNAD_OPS),
    "fx-darts": (FXDartsSearcher, "node_softmax", FLEX_OPS),
}


@dataclass(frozen=True)
class DartsSearchConfig:
    """A DARTS-space search run (defaults: the paper-sized DNAD setting: 8 cells, C=16).

    Attributes:
        method: ``dnad`` or ``fx-darts``.
        space: ``darts``.
        data: CIFAR-10 archive, image folder/tar, or ``synthetic``.
        seed: seeds weights, alphas, data subset and shuffling.
        channels, cells, nodes: supernet C, cell count, nodes per cell.
        ops: candidate ops (comma-separated; empty: the method's default set).
        epochs, batch_size, limit_train: schedule and data size.
        warmup_epochs, prune_every, milestone: shrinking settings (None: the method's default).
        teacher: genotype JSON file of the teacher network; only together with `teacher_checkpoint` (its
            trained weights), since an untrained teacher would distil toward a random network.
        teacher_checkpoint: a ``darts-backend train`` checkpoint: enables distillation (its own genotype is
            used when `teacher` is unset).
        teacher_index: which genotype of a list in `teacher`.
        teacher_channels, teacher_cells: teacher C and cells (darts genotypes).
        options: ``KEY=VALUE`` overrides of the method's config fields (e.g. ``gamma_init=0.1``).
        device, threads: where and how to run.
        preset: the named preset the values came from (`darts_backend.runs.presets`), or None. DNAD's
            ``paper`` preset distils from a trained teacher, so it needs `teacher_checkpoint`.
    """

    method: str = "dnad"
    space: str = "darts"
    data: str = "synthetic"
    seed: int = 0
    channels: int = 16
    cells: int = 8
    nodes: int = 4
    ops: str = ""
    epochs: int = 50
    batch_size: int = 64
    limit_train: int | None = None
    warmup_epochs: int | None = None
    prune_every: int | None = None
    milestone: float | None = None
    teacher: str | None = None
    teacher_checkpoint: str | None = None
    teacher_index: int = 0
    teacher_channels: int = 16
    teacher_cells: int = 8
    options: tuple[str, ...] = ()
    device: str = "auto"
    threads: int | None = None
    preset: str | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r} for space 'darts'; valid: {', '.join(METHODS)}")
        if self.space not in SPACES:
            raise ValueError(f"unknown space {self.space!r}; valid: {', '.join(SPACES)}")
        if min(self.channels, self.cells, self.nodes, self.epochs, self.batch_size) < 1:
            raise ValueError("channels, cells, nodes, epochs and batch_size must be >= 1")
        check_numbers(self, dict.fromkeys(("channels", "cells", "nodes", "epochs", "batch_size", "limit_train", "prune_every",
                                           "teacher_channels", "teacher_cells", "threads"), AT_LEAST_ONE)
                      | {"teacher_index": Bounds(None), "seed": Bounds(None)})
        if self.preset is not None and self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; valid presets: {', '.join(PRESETS)}")
        if self.preset == "paper" and self.method == "dnad" and self.teacher_checkpoint is None:
            raise ValueError("preset 'paper' of dnad distils from a trained teacher (NADD: a C=36 network): "
                             "give --teacher-checkpoint PT, or use --preset cpu")
        if self.teacher is not None and self.teacher_checkpoint is None:
            raise ValueError("a teacher genotype (--teacher) needs its trained weights (--teacher-checkpoint PT, a "
                             "'darts-backend train' checkpoint); without them it would distil toward a random network")

    def searcher_config(self) -> DNADConfig | FXDartsConfig:
        """The method's config with the run's overrides."""
        cls = DNADConfig if self.method == "dnad" else FXDartsConfig
        overrides = {k: v for k, v in (("warmup_epochs", self.warmup_epochs), ("prune_every", self.prune_every),
                                        ("milestone", self.milestone)) if v is not None}
        types = {f.name: f.type for f in fields(cls)}
        for option in self.options:
            key, sep, value = option.partition("=")
            if not sep or key not in types:
                raise ValueError(f"bad option {option!r}; use KEY=VALUE with KEY one of {', '.join(sorted(types))}")
            kind = str(types[key])
            if kind.startswith("tuple"):
                overrides[key] = tuple(float(v) for v in value.split(","))
            elif kind.startswith("float"):
                overrides[key] = None if value == "none" else float(value)
            elif kind.startswith("int"):
                overrides[key] = int(value)
            elif kind == "bool":
                overrides[key] = value.lower() in ("1", "true", "yes")
            else:
                overrides[key] = value
        return cls(epochs=self.epochs, **overrides)


def _teacher(config: DartsSearchConfig, num_classes: int, device: torch.device) -> FeatureTeacher | None:
    """The trained teacher of `config.teacher_checkpoint` (None without one)."""
    if config.teacher_checkpoint is None:
        return None
    state = load_checkpoint(config.teacher_checkpoint, map_location=device)
    with checkpoint_errors(config.teacher_checkpoint):
        if config.teacher is not None:
            genotype = load_genotype_file(config.teacher, config.teacher_index)
        else:
            genotype = get_space("flex").from_json(json.loads(state["genotype"]))
        channels, cells = config.teacher_channels, config.teacher_cells
        if "train_config" in state:
            saved = json.loads(state["train_config"])
            channels, cells = int(saved["channels"]), int(saved["cells"])
        model = DartsNetwork(genotype, C=channels, num_cells=cells, num_classes=num_classes).to(device)
        model.load_state_dict(state["model"])
    return FeatureTeacher(model, model.stage_end_names())


class _DartsTrainer(SearchTrainer):
    """The shared search loop, with the alpha history described for the DARTS space."""

    def alphas_document(self) -> dict[str, Any]:
        net = self.searcher.network
        return {"method": self.searcher.name, "space": "flex", "ops": list(net.ops), "nodes": net.k,
                "layout": list(net.layout), "shape": "(cells, edges, ops); edge offset(i)+j feeds node i+2 from input j",
                "history": self.alpha_history}


@locked_run
def run_darts_search(config: DartsSearchConfig, out_dir: str | Path, *, resume: bool = False,
                     progress: bool = True) -> list[dict[str, Any]]:
    """Run (or resume) a set-emitting search; returns the entries written to ``genotypes.json``.

    Raises:
        ValueError: bad configuration or data, or `out_dir` holds a checkpoint and `resume` is False.
    """
    for name, path in (("teacher", config.teacher), ("teacher_checkpoint", config.teacher_checkpoint)):
        if path is not None and not Path(path).is_file():
            raise ValueError(f"{name} file {path} does not exist")
    out, device = prepare_run(out_dir, resume=resume, threads=config.threads, device=config.device)
    start = time.perf_counter()
    images = load_dataset(config.data, "train", limit=config.limit_train, generator=torch.Generator().manual_seed(config.seed))
    input_size = (3, int(images.images.shape[2]), int(images.images.shape[3]))
    searcher_cls, normalization, default_ops = METHODS[config.method]
    ops = tuple(o.strip() for o in config.ops.split(",") if o.strip()) or default_ops
    network = DartsSearchNetwork(C=config.channels, num_cells=config.cells, nodes=config.nodes, ops=ops,
                                 mode="per_cell", normalization=normalization, num_classes=images.num_classes,
                                 generator=torch.Generator().manual_seed(config.seed)).to(device)
    teacher = _teacher(config, images.num_classes, device)
    distiller = None
    if teacher is not None:
        distiller = FeatureDistiller(teacher, network.feature_channels(), teacher.channels(input_size),
                                     config.searcher_config().stage_weights).to(device)
    searcher = searcher_cls(network, config.searcher_config(), distiller=distiller, input_size=input_size)
    loader = BatchLoader(images, config.batch_size, seed=config.seed, device=device)
    resolved = asdict(config)
    trainer = _DartsTrainer(searcher, loader, None, out, TrainerConfig(epochs=config.epochs, progress=progress),
                            run_config=resolved)
    if resume:
        trainer.resume()
    write_json(out / "config.json", {**resolved, "searcher": asdict(searcher.config), "resolved_device": str(device),
                                     "train_images": len(images), "ops": list(ops)})
    trainer.fit()
    entries = [s.to_json() for s in searcher.finalize()]
    write_json(out / "genotypes.json", entries)
    plot_set(entries, out / "pareto.png", title=f"{config.method}: emitted set")
    write_json(out / "result.json", {"method": config.method, "seed": config.seed, "size": len(entries),
                                     "points": [{k: e[k] for k in ("params", "flops", "search_acc", "reason")} for e in entries],
                                     "seconds_this_call": round(time.perf_counter() - start, 1)})
    return entries


def load_search_network(run_dir: str | Path, device: torch.device | str = "cpu"
                        ) -> tuple[DartsSearchNetwork, dict[str, Any]]:
    """The supernet of a DARTS-space run folder as its last checkpoint left it, and the run's config.

    The network is rebuilt from the run configuration stored in ``checkpoint.pt`` (the resolved
    `DartsSearchConfig`: method, channels, cells, nodes, ops) and loads its weights, alphas and
    ``alive`` mask (so its plan is the shrunk one); ``forward(x, genotype=g)`` scores a DARTS genotype.

    Raises:
        ValueError: the folder has no ``checkpoint.pt`` or is not a DARTS-space search run.
    """
    state, config = load_run_checkpoint(run_dir, device)
    if config.get("space") not in SPACES or config.get("method") not in METHODS:
        raise ValueError(f"{run_dir} is a {config.get('space')!r} run of method {config.get('method')!r}, "
                         f"not a DARTS-space one (spaces {', '.join(SPACES)}; methods {', '.join(METHODS)})")
    _, normalization, default_ops = METHODS[config["method"]]
    ops = tuple(o.strip() for o in str(config.get("ops") or "").split(",") if o.strip()) or default_ops
    weights = state["searcher"]["network"]
    network = DartsSearchNetwork(C=int(config["channels"]), num_cells=int(config["cells"]), nodes=int(config["nodes"]),
                                 ops=ops, mode="per_cell", normalization=normalization,
                                 num_classes=int(weights["classifier.weight"].shape[0]))
    network.load_state_dict(weights)
    return network.to(device).eval(), config


def plot_set(entries: Sequence[dict[str, Any]], path: Path, *, title: str = "") -> None:
    """Params (M) vs search accuracy of the emitted set, saved atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    xs, ys = [e["params"] for e in entries], [100 * e["search_acc"] for e in entries]
    ax.plot(xs, ys, "o-")
    for i, (x, y) in enumerate(zip(xs, ys)):
        ax.annotate(str(i), (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
    ax.set_xlabel("parameters (M)")
    ax.set_ylabel("search accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=120, format="png")
    finally:
        plt.close(fig)
