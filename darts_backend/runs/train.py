"""Training one discrete network from a genotype file: the evaluation step after a search.

Any space with a discrete network (`darts_backend.networks.build_network`: nb201, darts, flex). With
``test=False`` the test split is never loaded (a search-time proxy scores on the held-out share only).

Run folder: ``config.json``, ``metrics.jsonl`` (loss and test accuracy per epoch, as fractions), ``checkpoint.pt``(``{"model", "optimizer", "scheduler", "epoch", "genotype", "train_config"}``; resume from it; usable as
a distillation teacher) and ``result.json`` (params, FLOPs, final accuracies in percent: ``test_acc_percent``,
``valid_acc_percent``; files written before the unit was in the key hold fractions under ``test_acc`` /
``valid_acc``, which `accuracy_percent` still reads).
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from darts_backend.data import BatchLoader, load_dataset
from darts_backend.runs.files import append_jsonl, checkpoint_errors, load_checkpoint, locked_run, save_checkpoint, write_json
from darts_backend.networks import build_network, count_flops, count_parameters
from darts_backend.runs.trainer import CHECKPOINT, compile_network, prepare_run
from darts_backend.searchers.base import autocast_dtype
from nasspace.options import AT_LEAST_ONE, POSITIVE, Bounds, check_numbers
from nasspace.space import Genotype, get_space
from darts_backend.errors import ConfigError

__all__ = ["TrainConfig", "run_train", "evaluate", "load_genotype_file"]


def load_genotype_file(path: str | Path, index: int = 0) -> Genotype:
    """A genotype from a JSON file holding one shared-format genotype or a list of them (`index` picks one)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read a genotype from {path}: {exc}") from None
    if isinstance(data, list):
        if not -len(data) <= index < len(data):
            raise ConfigError(f"{path} holds {len(data)} genotypes; index {index} is out of range")
        data = data[index]
    if not isinstance(data, dict) or "space" not in data:
        raise ConfigError(f"{path}: expected a genotype JSON object with 'space' (or a list of them)")
    return get_space(data["space"]).from_json(data)


@dataclass(frozen=True)
class TrainConfig:
    """Training one discrete network (the evaluation step; CPU-sized defaults are the caller's job).

    Attributes:
        genotype: JSON file with a genotype or a list (``genotypes.json``); `index` picks one.
        channels, cells: network C and cell count (NB201: cells per stage; darts: cells in all; flex: its own).
        valid_fraction: share of the training images held out (never trained on) for ``valid_acc``, the
            accuracy a Pareto set is selected on (0: no held-out split; ``valid_acc`` is then None).
        test: measure ``test_acc`` on the test split each epoch; False never loads the test split
            (``test_acc`` is then None) and needs a held-out share (``valid_fraction`` > 0).
        lr, lr_min, momentum, weight_decay, grad_clip: SGD (Nesterov) with cosine annealing.
        mixed_precision: bfloat16 autocast of the forward pass on CUDA (ignored on CPU).
        compile: compile the network's forward with ``torch.compile`` (off by default).
    """

    genotype: str = ""
    index: int = 0
    data: str = "synthetic"
    seed: int = 0
    channels: int = 16
    cells: int = 8
    epochs: int = 50
    batch_size: int = 96
    limit_train: int | None = None
    limit_test: int | None = None
    valid_fraction: float = 0.0
    lr: float = 0.025
    lr_min: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    device: str = "auto"
    threads: int | None = None
    mixed_precision: bool = True
    compile: bool = False
    test: bool = True

    def __post_init__(self) -> None:
        check_numbers(self, {**dict.fromkeys(("channels", "cells", "epochs", "batch_size", "limit_train", "limit_test",
                                              "threads"), AT_LEAST_ONE),
                             "lr": POSITIVE, "momentum": Bounds(0.0, 1.0, high_open=True),
                             "index": Bounds(None), "seed": Bounds(None)})  # index -1: the last genotype
        if not 0.0 <= self.valid_fraction < 1.0:
            raise ConfigError(f"valid_fraction must be in [0, 1), got {self.valid_fraction}")
        if not self.test and self.valid_fraction == 0.0:
            raise ConfigError("test=False scores on a held-out share of the train images: give valid_fraction > 0")


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader: BatchLoader, autocast: torch.dtype | None = None) -> float:
    """Top-1 accuracy of `model` over `loader` (counted on the device, read once at the end)."""
    model.eval()
    correct: torch.Tensor | None = None
    total = 0
    for x, y in loader:
        with torch.autocast(x.device.type, dtype=autocast) if autocast is not None else contextlib.nullcontext():
            logits = model(x)
        hits = (logits.argmax(1) == y).sum()
        correct = hits if correct is None else correct + hits
        total += y.shape[0]
    model.train()
    return 0.0 if correct is None else float(correct) / max(total, 1)


def accuracy_percent(result: dict[str, Any], name: str) -> float | None:
    """``result[name + "_percent"]``, or from an older ``result.json``, ``100 * result[name]`` (a fraction).

    Returns None when the accuracy was not measured (``valid_acc`` without a held-out share).
    """
    if f"{name}_percent" in result:
        value = result[f"{name}_percent"]
    else:
        value = result.get(name)
        value = None if value is None else 100.0 * value
    return None if value is None else float(value)


@locked_run
def run_train(config: TrainConfig, out_dir: str | Path, *, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train the genotype's network on the train split (less the held-out share), test each epoch; returns
    ``result.json``'s content: ``params``, ``flops``, ``test_acc_percent`` (None with ``test=False``) and
    ``valid_acc_percent`` (None without a held-out share), accuracies in percent.    """
    from tqdm.auto import tqdm

    out, device = prepare_run(out_dir, resume=resume, threads=config.threads, device=config.device)
    genotype = load_genotype_file(config.genotype, config.index)
    gen = torch.Generator().manual_seed(config.seed)
    train = load_dataset(config.data, "train", limit=config.limit_train, generator=gen, progress=progress)
    test = None
    if config.test:
        test = load_dataset(config.data, "test", limit=config.limit_test, generator=gen, progress=progress) \
            if config.data != "synthetic" else train
    valid = None
    if config.valid_fraction > 0:
        train, valid = train.split(1 - config.valid_fraction, generator=gen)
    torch.manual_seed(config.seed)  # module initialisation below uses the global RNG
    model = build_network(genotype, channels=config.channels, cells=config.cells, num_classes=train.num_classes).to(device)
    size = (3, int(train.images.shape[2]), int(train.images.shape[3]))
    params, flops = count_parameters(model), count_flops(model, size, convention="macs")
    compile_network(model, config.compile)
    amp = autocast_dtype(device, config.mixed_precision)
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, nesterov=True,
                          weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs, eta_min=config.lr_min)
    train_loader = BatchLoader(train, config.batch_size, seed=config.seed, device=device)
    test_loader = None if test is None else BatchLoader(test, config.batch_size, device=device, augment=False,
                                                         shuffle=False, drop_last=False)
    valid_loader = None if valid is None else BatchLoader(valid, config.batch_size, device=device, augment=False,
                                                          shuffle=False, drop_last=False)
    start_epoch = 0
    if resume and (out / CHECKPOINT).is_file():
        state = load_checkpoint(out / CHECKPOINT, map_location=device)
        with checkpoint_errors(out / CHECKPOINT):
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            start_epoch = int(state["epoch"])
    write_json(out / "config.json", {**asdict(config), "space": genotype.space_name, "params_m": params, "flops_m": flops,
                                     "resolved_autocast": str(amp or "off"), "train_images": len(train),
                                     "valid_images": 0 if valid is None else len(valid)})
    test_acc: float | None = float("nan") if test_loader is not None else None
    valid_acc = None
    for epoch in range(start_epoch, config.epochs):
        train_loader.set_epoch(epoch)
        loss_sum, steps, t0 = torch.zeros((), device=device), 0, time.perf_counter()  # read once per epoch
        for x, y in tqdm(train_loader, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress, leave=False):
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=amp) if amp is not None else contextlib.nullcontext():
                logits = model(x)
            loss = F.cross_entropy(logits.float(), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            opt.step()
            loss_sum, steps = loss_sum + loss.detach(), steps + 1
        sched.step()
        test_acc = None if test_loader is None else evaluate(model, test_loader, amp)
        valid_acc = None if valid_loader is None else evaluate(model, valid_loader, amp)
        append_jsonl(out / "metrics.jsonl", {"epoch": epoch + 1, "loss": float(loss_sum) / max(steps, 1),
                                              "test_acc": test_acc, "valid_acc": valid_acc,
                                              "seconds": round(time.perf_counter() - t0, 2)})
        save_checkpoint(out / CHECKPOINT, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                           "scheduler": sched.state_dict(), "epoch": epoch + 1,
                                           "genotype": json.dumps(model.genotype.to_json()),
                                           "train_config": json.dumps(asdict(config))})
    if start_epoch >= config.epochs:  # resumed after the last epoch: measure the trained network again
        test_acc = None if test_loader is None else evaluate(model, test_loader, amp)
        valid_acc = None if valid_loader is None else evaluate(model, valid_loader, amp)
    result = {"genotype": str(genotype), "space": genotype.space_name, "params": params, "flops": flops,
              "test_acc_percent": None if test_acc is None else 100.0 * test_acc, "valid_acc_percent": None if valid_acc is None else 100.0 * valid_acc,
              "epochs": config.epochs}
    write_json(out / "result.json", result)
    return result
