"""A DARTS-space search run: data, flexible supernet, optional teacher, DNAD / FX-DARTS, result files.

A share of the training images (`DartsSearchConfig.heldout_fraction`) is held out: the search never
trains on it, and each snapshot's ``heldout_acc`` is the supernet's accuracy on it at that moment.

Run folder: ``config.json``, ``metrics.jsonl``, ``alphas.json``, ``checkpoint.pt`` (every epoch; resume
from it), ``snapshots.json`` (every snapshot: shared-format ``flex`` genotype, ``params`` and ``flops``
in millions, ``heldout_acc``, ``search_acc`` (training batches, for diagnosis), the step/epoch/reason of
the snapshot, and ``pareto``: whether it is on the front), ``genotypes.json`` (the emitted set: the
snapshots on the Pareto front of ``heldout_acc`` against `DartsSearchConfig.pareto_axis`, largest
first), ``pareto.png`` (held-out accuracy against that axis, front drawn) and ``result.json``.
``darts-backend retrain-set`` (`darts_backend.runs.retrain`) later trains each member and redraws
``pareto.png`` from the retrained accuracies.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
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
from darts_backend.searchers.base import parse_options
from darts_backend.searchers.shrinking import ShrinkingSearcher
from darts_backend.supernets.darts import DartsSearchNetwork
from darts_backend.runs.pareto import COST_AXES, pareto_indices, plot_pareto
from darts_backend.runs.train import evaluate, load_genotype_file
from darts_backend.runs.trainer import SearchTrainer, TrainerConfig, compile_network, load_run_checkpoint, prepare_run
from darts_backend.runs.tracking import epoch_logger
from nasspace.options import AT_LEAST_ONE, Bounds, check_numbers
from nasspace.flex import DNAD_OPS, FLEX_OPS
from nasspace.space import get_space
from nasspace.tracking import open_tracker
from darts_backend.errors import ConfigError

__all__ = ["SPACES", "METHODS", "DartsSearchConfig", "run_darts_search", "load_search_network", "heldout_score",
           "select_set"]

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
        heldout_fraction: share of the (limited) training images held out of the search to measure each
            snapshot's ``heldout_acc`` (in (0, 1); the search trains on the rest).
        pareto_axis: the cost the set is Pareto-filtered on against ``heldout_acc``: ``params`` or ``flops``.
        warmup_epochs, prune_every, milestone: shrinking settings (None: the method's default).
        teacher: genotype JSON file of the teacher network; only together with `teacher_checkpoint` (its
            trained weights), since an untrained teacher would distil toward a random network.
        teacher_checkpoint: a ``darts-backend train`` checkpoint: enables distillation (its own genotype is
            used when `teacher` is unset).
        teacher_index: which genotype of a list in `teacher`.
        teacher_channels, teacher_cells: teacher C and cells (darts genotypes).
        options: ``KEY=VALUE`` overrides of the method's config fields (e.g. ``gamma_init=0.1``).
        device, threads: where and how to run.
        compile: compile the supernet's forward with ``torch.compile`` (off by default; it recompiles after
            each deletion, which pays off only on long GPU runs). May change on resume.
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
    heldout_fraction: float = 0.1
    pareto_axis: str = "params"
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
    compile: bool = False
    preset: str | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown method {self.method!r} for space 'darts'; valid: {', '.join(METHODS)}")
        if self.space not in SPACES:
            raise ConfigError(f"unknown space {self.space!r}; valid: {', '.join(SPACES)}")
        if min(self.channels, self.cells, self.nodes, self.epochs, self.batch_size) < 1:
            raise ConfigError("channels, cells, nodes, epochs and batch_size must be >= 1")
        check_numbers(self, dict.fromkeys(("channels", "cells", "nodes", "epochs", "batch_size", "limit_train", "prune_every",
                                           "teacher_channels", "teacher_cells", "threads"), AT_LEAST_ONE)
                      | {"teacher_index": Bounds(None), "seed": Bounds(None)})
        if not 0.0 < self.heldout_fraction < 1.0:
            raise ConfigError(f"heldout_fraction must be in (0, 1), got {self.heldout_fraction}: the set is selected "
                              "on the accuracy of images the search never trains on")
        if self.pareto_axis not in COST_AXES:
            raise ConfigError(f"unknown pareto_axis {self.pareto_axis!r}; valid: {', '.join(COST_AXES)}")
        if self.preset is not None and self.preset not in PRESETS:
            raise ConfigError(f"unknown preset {self.preset!r}; valid presets: {', '.join(PRESETS)}")
        if self.preset == "paper" and self.method == "dnad" and self.teacher_checkpoint is None:
            raise ConfigError("preset 'paper' of dnad distils from a trained teacher (NADD: a C=36 network): "
                              "give --teacher-checkpoint PT, or use --preset cpu")
        if self.teacher is not None and self.teacher_checkpoint is None:
            raise ConfigError("a teacher genotype (--teacher) needs its trained weights (--teacher-checkpoint PT, a "
                              "'darts-backend train' checkpoint); without them it would distil toward a random network")

    def searcher_config(self) -> DNADConfig | FXDartsConfig:
        """The method's config with the run's overrides."""
        cls = DNADConfig if self.method == "dnad" else FXDartsConfig
        overrides = {k: v for k, v in (("warmup_epochs", self.warmup_epochs), ("prune_every", self.prune_every),
                                        ("milestone", self.milestone)) if v is not None}
        overrides.update(parse_options(cls, self.options))
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
                     progress: bool = True, tensorboard: str | Path | None = None) -> list[dict[str, Any]]:
    """Run (or resume) a set-emitting search; returns the entries written to ``genotypes.json``.

    ``tensorboard``: a folder for TensorBoard scalars of each epoch (`darts_backend.runs.tracking`), or None.

    Raises:
        ValueError: bad configuration or data, or `out_dir` holds a checkpoint and `resume` is False.
    """
    for name, path in (("teacher", config.teacher), ("teacher_checkpoint", config.teacher_checkpoint)):
        if path is not None and not Path(path).is_file():
            raise ConfigError(f"{name} file {path} does not exist")
    out, device = prepare_run(out_dir, resume=resume, threads=config.threads, device=config.device)
    start = time.perf_counter()
    data_gen = torch.Generator().manual_seed(config.seed)
    images = load_dataset(config.data, "train", limit=config.limit_train, generator=data_gen, progress=progress)
    train_set, heldout_set = images.split(1 - config.heldout_fraction, generator=data_gen)
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
    heldout = BatchLoader(heldout_set, config.batch_size, device=device, augment=False, shuffle=False, drop_last=False)
    searcher = searcher_cls(compile_network(network, config.compile), config.searcher_config(), distiller=distiller,
                            input_size=input_size, score=heldout_score(heldout))
    loader = BatchLoader(train_set, config.batch_size, seed=config.seed, device=device)
    resolved = asdict(config)
    trainer = _DartsTrainer(searcher, loader, None, out, TrainerConfig(epochs=config.epochs, progress=progress),
                            run_config=resolved)
    if resume:
        trainer.resume()
    write_json(out / "config.json", {**resolved, "searcher": asdict(searcher.config), "resolved_device": str(device),
                                     "resolved_autocast": str(searcher.autocast_dtype or "off"),
                                     "train_images": len(train_set), "heldout_images": len(heldout_set), "ops": list(ops)})
    with open_tracker(tensorboard) as tracker:
        trainer.fit(on_epoch_end=epoch_logger(tracker, trainer))
    snapshots, entries = select_set([s.to_json() for s in searcher.finalize()], cost=config.pareto_axis)
    write_json(out / "snapshots.json", snapshots)
    write_json(out / "genotypes.json", entries)
    plot_pareto(snapshots, out / "pareto.png", accuracy="heldout_acc", cost=config.pareto_axis,
                accuracy_label="supernet held-out accuracy (%)", title=f"{config.method}: snapshots, held-out front")
    write_json(out / "result.json", {"method": config.method, "seed": config.seed, "size": len(entries),
                                     "snapshots": len(snapshots), "pareto_axis": config.pareto_axis,
                                     "points": [{"params": e["params"], "flops": e["flops"], "reason": e["reason"],
                                                 **{f"{k}_percent": None if e[k] is None else 100.0 * e[k]
                                                    for k in ("heldout_acc", "search_acc")}} for e in entries],
                                     "seconds_this_call": round(time.perf_counter() - start, 1)})
    return entries


def heldout_score(loader: BatchLoader) -> Callable[[torch.nn.Module], float]:
    """A snapshot score: top-1 accuracy of the network on `loader`'s (held-out) images, in eval mode,
    leaving the network in the mode it was in."""

    def score(network: torch.nn.Module) -> float:
        training = network.training
        acc = evaluate(network, loader)
        network.train(training)
        return acc

    return score


def select_set(snapshots: Sequence[dict[str, Any]], *, cost: str = "params"
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(snapshots with a "pareto" flag, the emitted set)``: the set keeps, in order, the snapshots on the
    Pareto front of ``heldout_acc`` (up) against `cost` (down); without any held-out accuracy (a run that
    had no score) it keeps them all."""
    measured = any(isinstance(s.get("heldout_acc"), (int, float)) for s in snapshots)
    front = set(pareto_indices(snapshots, accuracy="heldout_acc", cost=cost)) if measured else set(range(len(snapshots)))
    flagged = [{**s, "pareto": i in front} for i, s in enumerate(snapshots)]
    return flagged, [s for s in flagged if s["pareto"]]


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
        raise ConfigError(f"{run_dir} is a {config.get('space')!r} run of method {config.get('method')!r}, "
                          f"not a DARTS-space one (spaces {', '.join(SPACES)}; methods {', '.join(METHODS)})")
    _, normalization, default_ops = METHODS[config["method"]]
    ops = tuple(o.strip() for o in str(config.get("ops") or "").split(",") if o.strip()) or default_ops
    weights = state["searcher"]["network"]
    network = DartsSearchNetwork(C=int(config["channels"]), num_cells=int(config["cells"]), nodes=int(config["nodes"]),
                                 ops=ops, mode="per_cell", normalization=normalization,
                                 num_classes=int(weights["classifier.weight"].shape[0]))
    network.load_state_dict(weights)
    return network.to(device).eval(), config
