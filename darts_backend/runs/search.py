"""One complete search run: data, supernet, searcher, trainer, and the result files.

Run folder layout: ``config.json`` (resolved configuration), ``metrics.jsonl`` (one line per epoch),
``alphas.json`` (alpha history), ``checkpoint.pt`` (every epoch), ``genotype.json`` (the result in the
shared `nasspace` format) and ``result.json`` (genotype, NB201 lookup when the table is present, time).
An ``spos`` run (no alphas; ``alphas.json`` holds its uniform sampling distribution) also writes
``selection.json``: the sampled cells it chose its genotype from, ranked (`darts_backend.runs.path_selection`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch

from darts_backend.data import BatchLoader, load_dataset
from nasspace.tracking import open_tracker
from darts_backend.runs.files import locked_run, write_json
from darts_backend.runs.presets import PRESETS
from darts_backend.runs.path_selection import select_path
from darts_backend.searchers import SearcherConfig, SposSearcher, create_searcher, parse_options, searcher_class
from darts_backend.supernets import DartsSearchNetwork, NB201SearchNetwork
from darts_backend.supernets.partial import check_partial_channels
from darts_backend.runs.tracking import epoch_logger
from darts_backend.runs.trainer import SearchTrainer, TrainerConfig, compile_network, load_run_checkpoint, prepare_run
from nasspace.errors import DataError
from nasspace.options import AT_LEAST_ONE, OPEN_FRACTION, check_numbers
from nasspace.space import Genotype
from darts_backend.errors import ConfigError, RunFolderError
from darts_backend.spaces import backend_space, list_backend_spaces

__all__ = ["METHODS", "SearchRunConfig", "SearchResult", "run_search", "nb201_lookup", "build_search_network", "load_search_network"]

METHODS = ("single-darts", "darts", "pc-darts", "ms-darts", "spos")
"""The single-genotype methods this run drives (the set-emitting ones run through `runs.set_search`)."""


@dataclass(frozen=True)
class SearchRunConfig:
    """Everything a search run needs; the defaults are the paper-sized (GPU) setting.

    Attributes:
        method: one of `METHODS`.
        space: ``nb201``, or ``darts`` (the NB301-compatible DARTS space: a shared-mode supernet, one
            alpha set per cell type, 8 ops with ``none``, 4 nodes; the genotype keeps 2 inputs per node).
        data: CIFAR-10 python archive, image folder/tar, or ``synthetic``.
        seed: seeds weights, alphas, the data subset/split, shuffling and augmentation.
        channels: supernet C.
        cells: supernet N: cells per stage on ``nb201``, cells in all (>= 3, two of them reductions) on ``darts``.
        epochs: search epochs.
        batch_size: images per batch (train and valid).
        limit_train: use a random subset of this many training images (None: all).
        valid_fraction: share of the training images held out for the alpha steps of bi-level methods,
            and for ``spos``'s final path selection (its weights never train on them).
        device: ``auto`` (CUDA if present), ``cpu``, ``cuda``.
        threads: CPU threads for torch (None: leave torch's default).
        channels_last: channels-last memory format on CUDA (ignored on CPU, where it is slower here).
        compile: compile the supernet's forward with ``torch.compile`` (`runs.trainer.compile_network`);
            off by default (minutes of compilation on CPU); may change on resume.
        optim: optimiser settings, resolved on construction to the method's config class with `options`
            applied, ``epochs`` set to `epochs` and (for a method with a ``seed`` field, such as
            ``ms-darts``) ``seed`` set to `seed` unless an option sets it: the stored configuration shows
            what ran.
        partial_channels: PC-DARTS's K for the supernet (None: the method's default, 4 for ``pc-darts``, else 1).
        edge_normalization: PC-DARTS's edge betas (None: the method's default, on for ``pc-darts``).
        options: ``KEY=VALUE`` overrides of the method's config fields (e.g. ``samples=5`` for ``ms-darts``).
        preset: the named preset the values came from (`darts_backend.runs.presets`), or None; a record only.
    """

    method: str = "single-darts"
    space: str = "nb201"
    data: str = "synthetic"
    seed: int = 0
    channels: int = 16
    cells: int = 5
    epochs: int = 50
    batch_size: int = 64
    limit_train: int | None = None
    valid_fraction: float = 0.5
    device: str = "auto"
    threads: int | None = None
    channels_last: bool = True
    compile: bool = False
    optim: SearcherConfig = field(default_factory=SearcherConfig)
    partial_channels: int | None = None
    edge_normalization: bool | None = None
    options: tuple[str, ...] = ()
    preset: str | None = None

    def __post_init__(self) -> None:
        backend_space(self.space)  # ConfigError listing the spaces with a supernet
        cls = searcher_class(self.method)  # ValueError listing the valid methods
        if self.method not in METHODS:
            raise ConfigError(f"method {self.method!r} does not run here; single-genotype methods: {', '.join(METHODS)}")
        if self.channels < 1 or self.cells < 1 or self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("channels, cells, epochs and batch_size must be >= 1")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be >= 1, got {self.threads}")
        check_numbers(self, {**dict.fromkeys(("channels", "cells", "epochs", "batch_size", "limit_train", "threads"), AT_LEAST_ONE),
                             "valid_fraction": OPEN_FRACTION})
        if self.preset is not None and self.preset not in PRESETS:
            raise ConfigError(f"unknown preset {self.preset!r}; valid presets: {', '.join(PRESETS)}")
        defaults = cls.network_options
        if self.partial_channels is None:
            object.__setattr__(self, "partial_channels", int(defaults.get("partial_channels", 1)))
        if self.edge_normalization is None:
            object.__setattr__(self, "edge_normalization", bool(defaults.get("edge_normalization", False)))
        check_partial_channels(self.partial_channels, [self.channels])
        cls.check_network_options(partial_channels=self.partial_channels, edge_normalization=self.edge_normalization)
        object.__setattr__(self, "options", tuple(self.options))
        overrides = parse_options(cls.config_class, self.options)
        if "seed" in {f.name for f in fields(cls.config_class)}:
            overrides.setdefault("seed", self.seed)
        optim = cls.config_class.coerce(self.optim)
        if optim.epochs != self.epochs or overrides:
            optim = replace(optim, epochs=self.epochs, **overrides)
        object.__setattr__(self, "optim", optim)


@dataclass(frozen=True)
class SearchResult:
    """What a run produced."""

    genotype: Genotype
    out_dir: Path
    seconds: float
    nb201_test_acc: float | None


def nb201_lookup(genotype: Genotype, dataset: str = "cifar10") -> float | None:
    """NB201 `test_acc` of `genotype`, or None when the table files are not present or it is no NB201 cell."""
    if genotype.space.name != "nb201":
        return None
    try:
        from nasspace.benchmarks.nb201 import NB201Table

        return float(NB201Table(dataset).query(genotype, "test_acc"))
    except DataError:
        return None


@locked_run
def run_search(config: SearchRunConfig, out_dir: str | Path, *, resume: bool = False,
               progress: bool = True, tensorboard: str | Path | None = None) -> SearchResult:
    """Run (or resume) a search and write the run folder.

    ``tensorboard``: a folder for TensorBoard scalars of each epoch (`darts_backend.runs.tracking`), or None.

    Raises:
        ValueError: bad configuration or data, or `out_dir` holds a checkpoint and `resume` is False.
    """
    out, device = prepare_run(out_dir, resume=resume, threads=config.threads, device=config.device)
    channels_last = config.channels_last and device.type == "cuda"
    start = time.perf_counter()

    data_gen = torch.Generator().manual_seed(config.seed)
    images = load_dataset(config.data, "train", limit=config.limit_train, generator=data_gen, progress=progress)
    needs_valid = searcher_class(config.method).needs_valid or config.method == "spos"
    train_set, valid_set = images.split(1 - config.valid_fraction, generator=data_gen) if needs_valid else (images, None)

    init_gen = torch.Generator().manual_seed(config.seed)
    network = build_search_network(config.space, config.channels, config.cells, images.num_classes, generator=init_gen,
                                   partial_channels=config.partial_channels, edge_normalization=config.edge_normalization)
    network = network.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
    searcher = create_searcher(config.method, compile_network(network, config.compile), config.optim)

    loader_args: dict[str, Any] = {"device": device, "channels_last": channels_last}
    train_loader = BatchLoader(train_set, config.batch_size, seed=config.seed, **loader_args)
    valid_loader = None if valid_set is None or not searcher.needs_valid else \
        BatchLoader(valid_set, config.batch_size, seed=config.seed + 1, **loader_args)

    resolved = asdict(config)
    trainer = SearchTrainer(searcher, train_loader, valid_loader, out,
                            TrainerConfig(epochs=config.epochs, progress=progress), run_config=resolved)
    if resume:
        trainer.resume(upgrade=_upgrade_stored)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", {**resolved, "resolved_device": str(device), "resolved_threads": torch.get_num_threads(),
                                     "resolved_autocast": str(searcher.autocast_dtype or "off"),
                                     "train_images": len(train_set), "valid_images": len(valid_set or ())})
    with open_tracker(tensorboard) as tracker:
        trainer.fit(on_epoch_end=epoch_logger(tracker, trainer))

    if isinstance(searcher, SposSearcher):
        assert valid_set is not None  # spos always holds out its selection share
        cfg = searcher.config
        selection = select_path(searcher, valid_set, candidates=cfg.select_candidates,
                                calibration=cfg.select_calibration, images=cfg.select_images, seed=config.seed)
        searcher.chosen = selection.ranked[0].genotype
        write_json(out / "selection.json", selection.to_json())
    genotype = searcher.genotype()
    write_json(out / "genotype.json", genotype.to_json())
    test_acc = nb201_lookup(genotype)
    seconds = time.perf_counter() - start
    write_json(out / "result.json", {"method": config.method, "seed": config.seed, "genotype": str(genotype),
                                     "nb201_cifar10_test_acc_percent": test_acc, "seconds_this_call": round(seconds, 1)})
    return SearchResult(genotype, out, seconds, test_acc)


def _upgrade_stored(stored: dict[str, Any]) -> dict[str, Any]:
    """A run configuration stored by an older version, in today's form: runs stored before ``optim.epochs``
    was resolved also ran ``epochs``; runs stored before the PC-DARTS options ran without them."""
    optim = stored.get("optim")
    if isinstance(optim, dict) and "epochs" in stored:
        stored = {**stored, "optim": {**optim, "epochs": stored["epochs"]}}
    return {"partial_channels": 1, "edge_normalization": False, "options": [], "compile": False, **stored}


def build_search_network(space: str, channels: int, cells: int, num_classes: int,
                         generator: torch.Generator | None = None, *, partial_channels: int = 1,
                         edge_normalization: bool = False) -> NB201SearchNetwork | DartsSearchNetwork:
    """The supernet of `space` (`darts_backend.spaces`; see `SearchRunConfig` for what `cells` counts), with
    PC-DARTS's options."""
    return backend_space(space).supernet(channels=channels, cells=cells, num_classes=num_classes, generator=generator,
                                         partial_channels=partial_channels, edge_normalization=edge_normalization)


def load_search_network(run_dir: str | Path, device: torch.device | str = "cpu"
                        ) -> tuple[NB201SearchNetwork | DartsSearchNetwork, dict[str, Any]]:
    """The supernet of a `run_search` folder as its last checkpoint left it, and the run's config.

    Raises:
        ValueError: the folder has no ``checkpoint.pt`` or was not written by `run_search`.
    """
    state, config = load_run_checkpoint(run_dir, device)
    spaces = list_backend_spaces()
    if config.get("space") not in spaces or config.get("method") not in METHODS:
        raise RunFolderError(f"{run_dir} is a {config.get('space')!r} run of {config.get('method')!r}, "
                             f"not a {', '.join(METHODS)} run on {' or '.join(spaces)}")
    weights = state["searcher"]["network"]
    network = build_search_network(config["space"], config["channels"], config["cells"], weights["classifier.weight"].shape[0],
                                   partial_channels=int(config.get("partial_channels", 1)),
                                   edge_normalization=bool(config.get("edge_normalization", False)))
    network.load_state_dict(weights)
    return network.to(device).eval(), config
