"""The one search loop: epochs of searcher steps, progress bar, metrics JSONL, alpha history,
a checkpoint every epoch, and resume from it.

Per-step metrics stay on the device and are summed there; the host reads them once per epoch (and
when the progress bar is refreshed, every `TrainerConfig.log_every` steps), so the step itself never
waits for the device.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from darts_backend.data.loader import BatchLoader
from darts_backend.runs.files import append_jsonl, checkpoint_errors, load_checkpoint, save_checkpoint, write_json
from darts_backend.searchers.base import Batch, Searcher
from darts_backend.supernets import NB201SearchNetwork
from nasspace.nb201 import NB201_EDGES
from darts_backend.errors import ConfigError

__all__ = ["TrainerConfig", "SearchTrainer", "prepare_run", "select_device", "compile_network", "CHECKPOINT", "METRICS", "ALPHAS", "load_run_checkpoint"]

_MAY_CHANGE_ON_RESUME = frozenset({"device", "threads", "channels_last", "compile"})
CHECKPOINT = "checkpoint.pt"
_ESTIMATE_AFTER = 5  # steps timed for the epoch estimate (the first, warm-up step excluded)
METRICS = "metrics.jsonl"
ALPHAS = "alphas.json"


@dataclass(frozen=True)
class TrainerConfig:
    """Loop settings.

    Attributes:
        epochs: epochs to run in total (a resumed run continues up to this many).
        log_every: steps between progress-bar metric refreshes (each one syncs with the device).
        progress: show a tqdm progress bar.
        checkpoint: write ``checkpoint.pt`` after every epoch.
    """

    epochs: int = 50
    log_every: int = 50
    progress: bool = True
    checkpoint: bool = True

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.log_every < 1:
            raise ConfigError(f"epochs and log_every must be >= 1, got {self.epochs}, {self.log_every}")


def select_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA when present, else CPU; or ``cpu`` / ``cuda`` / ``cuda:N`` explicitly."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu" or name.startswith("cuda"):
        if name.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError("device 'cuda' requested but CUDA is not available; use 'cpu' or 'auto'")
        return torch.device(name)
    raise ConfigError(f"unknown device {name!r}; valid: auto, cpu, cuda, cuda:N")


def prepare_run(out_dir: str | Path, *, resume: bool, threads: int | None, device: str) -> tuple[Path, torch.device]:
    """The checks and settings every run command starts with: the run folder, torch threads, device.

    Raises:
        ValueError: ``out_dir`` already holds a checkpoint and ``resume`` is False, or a bad device.
    """
    out = Path(out_dir)
    if (out / CHECKPOINT).is_file() and not resume:
        raise ConfigError(f"{out} already holds a checkpoint; resume it or choose another output folder")
    if threads is not None:
        torch.set_num_threads(threads)
    chosen = select_device(device)
    if chosen.type == "cuda":  # fixed input shapes: let cuDNN pick the fastest kernels once
        torch.backends.cudnn.benchmark = True
    return out, chosen


def compile_network(network: torch.nn.Module, enabled: bool) -> torch.nn.Module:
    """`network` with its forward compiled by ``torch.compile`` when `enabled` (in place: parameters, buffers
    and ``state_dict`` keys are unchanged, so checkpoints load either way).

    Compilation happens at the first forward call and recompiles when the supernet's plan changes
    (a shrinking deletion); on CPU the first call takes minutes, so it is off by default.
    """
    if enabled:
        network.compile()
    return network


def load_run_checkpoint(run_dir: str | Path, device: torch.device | str = "cpu") -> tuple[dict[str, Any], dict[str, Any]]:
    """The last ``checkpoint.pt`` of a search run folder and the run configuration stored in it.

    Raises:
        ValueError: the folder holds no checkpoint.
    """
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise ConfigError(f"{run_dir} holds no {CHECKPOINT}; give the folder of a darts-backend search run")
    state = load_checkpoint(path, map_location=device)
    with checkpoint_errors(path):
        return state, json.loads(state["run_config"])


class SearchTrainer:
    """Runs a `Searcher` over loaders and records everything into `out_dir`.

    Args:
        searcher: the method, its supernet already on the device.
        train_loader: training batches.
        valid_loader: validation batches (required when ``searcher.needs_valid``); cycled as needed.
        out_dir: run folder for ``metrics.jsonl``, ``alphas.json``, ``checkpoint.pt``.
        config: loop settings.
        run_config: extra plain data stored in every checkpoint (the resolved run configuration).
    """

    def __init__(self, searcher: Searcher, train_loader: BatchLoader, valid_loader: BatchLoader | None,
                 out_dir: str | Path, config: TrainerConfig = TrainerConfig(),
                 run_config: dict[str, Any] | None = None):
        if searcher.needs_valid and valid_loader is None:
            raise ConfigError(f"method {searcher.name!r} needs a validation loader")
        self.searcher, self.train_loader, self.valid_loader = searcher, train_loader, valid_loader
        self.out_dir = Path(out_dir)
        self.config = config
        self.run_config: dict[str, Any] = json.loads(json.dumps(run_config or {}))  # as stored
        self.alpha_history: list[dict[str, Any]] = []
        self.start_epoch = 0

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT

    def resume(self, upgrade: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> int:
        """Load ``checkpoint.pt`` if present; returns the epoch the run continues from.

        Args:
            upgrade: maps a run configuration stored by an older version to today's form before the
                comparison (the run's own business; None compares as stored).

        Raises:
            ValueError: a setting differs from the checkpoint's (device, threads and channels_last may).
        """
        if not self.checkpoint_path.is_file():
            return 0
        state = load_checkpoint(self.checkpoint_path, map_location=self.searcher.network.alphas.device)
        with checkpoint_errors(self.checkpoint_path):
            stored = json.loads(state["run_config"])
        if upgrade is not None:
            stored = upgrade(stored)
        changed = sorted(k for k in set(stored) | set(self.run_config)
                         if k not in _MAY_CHANGE_ON_RESUME and stored.get(k) != self.run_config.get(k))
        if changed:
            raise ConfigError(f"cannot resume {self.checkpoint_path}: settings differ from the checkpoint's: {', '.join(changed)}")
        with checkpoint_errors(self.checkpoint_path):
            self.searcher.load_state_dict(state["searcher"])
            self.alpha_history = json.loads(state["alpha_history"])
            self.start_epoch = int(state["epoch"])
        self._truncate_metrics(self.start_epoch)
        return self.start_epoch

    def fit(self, on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
        """Run the remaining epochs; returns the per-epoch metric records written this call."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.searcher.plan(len(self.train_loader))
        first = self.start_epoch  # the epoch estimate is printed once per call, in its first epoch
        records = []
        for epoch in range(self.start_epoch, self.config.epochs):
            record = self._run_epoch(epoch, estimate=epoch == first)
            records.append(record)
            append_jsonl(self.out_dir / METRICS, record)
            entry = {"epoch": epoch + 1, "genotype": record["genotype"], "alphas": self.searcher.alpha_probabilities()}
            edge_weights = self.searcher.edge_probabilities()
            if edge_weights is not None:  # edge normalization (PC-DARTS): softmax of the betas per node
                entry["edge_weights"] = edge_weights
            self.alpha_history.append(entry)
            write_json(self.out_dir / ALPHAS, self.alphas_document())
            if self.config.checkpoint:
                save_checkpoint(self.checkpoint_path, {
                    "searcher": self.searcher.state_dict(),
                    "epoch": epoch + 1,
                    "alpha_history": json.dumps(self.alpha_history),
                    "genotype": json.dumps(self.searcher.genotype().to_json()),
                    "run_config": json.dumps(self.run_config),
                    "trainer_config": json.dumps(asdict(self.config)),
                })
            self.start_epoch = epoch + 1
            if on_epoch_end is not None:
                on_epoch_end(epoch, record)
        return records

    def alphas_document(self) -> dict[str, Any]:
        """The alpha history in its JSON form (what ``alphas.json`` holds)."""
        network = self.searcher.network
        if isinstance(network, NB201SearchNetwork):
            return {"method": self.searcher.name, "space": "nb201", "ops": list(network.ops),
                    "edges": [list(e) for e in NB201_EDGES], "history": self.alpha_history}
        # DARTS space (shared mode): alphas (cell type, edge, op); node i reads edges offsets[i]..offsets[i+1]
        return {"method": self.searcher.name, "space": "darts", "ops": list(network.ops), "cell_types": ["normal", "reduce"],
                "node_edges": [network.offsets[i + 1] - network.offsets[i] for i in range(network.k)],
                "history": self.alpha_history}

    def _run_epoch(self, epoch: int, *, estimate: bool = False) -> dict[str, Any]:
        searcher = self.searcher
        searcher.network.train()
        self.train_loader.set_epoch(epoch)
        valid_iter = self._valid_batches(epoch)
        sums: dict[str, torch.Tensor] = {}
        steps = 0
        start = time.perf_counter()
        timer = start
        bar = tqdm(self.train_loader, total=len(self.train_loader), desc=f"epoch {epoch + 1}/{self.config.epochs}",
                   disable=not self.config.progress, leave=False)
        for train_batch in bar:
            valid_batch = next(valid_iter) if valid_iter is not None else None
            metrics = searcher.train_step(train_batch, valid_batch)
            for key, value in metrics.items():
                sums[key] = sums[key] + value if key in sums else value.clone()
            steps += 1
            if estimate and steps in (1, _ESTIMATE_AFTER):
                timer = self._estimate(timer if steps > 1 else None, epoch)
            if self.config.progress and steps % self.config.log_every == 0:
                bar.set_postfix({k: f"{float(v) / steps:.3f}" for k, v in sums.items()})
        bar.close()
        lr = searcher.w_optimizer.param_groups[0]["lr"]
        searcher.end_epoch()
        elapsed = time.perf_counter() - start
        record: dict[str, Any] = {"epoch": epoch + 1, "steps": steps, "lr": lr, "seconds": round(elapsed, 3),
                                  "images_per_s": round(steps * self.train_loader.batch_size / max(elapsed, 1e-9), 2)}
        record.update({k: float(v) / max(steps, 1) for k, v in sums.items()})
        record["genotype"] = str(searcher.genotype())
        return record

    def _estimate(self, since: float | None, epoch: int) -> float:
        """At the first step (``since`` None) start the clock; at step `_ESTIMATE_AFTER` print one line with the
        time of an epoch and of the epochs left, from the steps in between (the first, warm-up step excluded).
        Waits for the device once, outside any step. Returns the clock's reading."""
        device = self.searcher.network.alphas.device
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        now = time.perf_counter()
        if since is not None:
            per_step = (now - since) / (_ESTIMATE_AFTER - 1)
            epoch_s = per_step * len(self.train_loader)
            left = self.config.epochs - epoch
            print(f"darts-backend: about {epoch_s:.{0 if epoch_s >= 10 else 1}f} s an epoch "
                  f"({len(self.train_loader)} steps at {per_step:.3f} s), about {epoch_s * left / 60:.1f} min "
                  f"for the {left} epoch{'s' if left != 1 else ''} to run",
                  file=sys.stderr, flush=True)
        return now

    def _valid_batches(self, epoch: int) -> Iterator[Batch] | None:
        if self.valid_loader is None or not self.searcher.needs_valid:
            return None
        loader = self.valid_loader

        def cycle() -> Iterator[Batch]:
            round_ = 0
            while True:
                loader.set_epoch(epoch * 1000 + round_)
                yield from loader
                round_ += 1

        return cycle()

    def _truncate_metrics(self, epochs_done: int) -> None:
        """Drop metric lines of epochs after `epochs_done` (written after the checkpoint, then lost)."""
        path = self.out_dir / METRICS
        if not path.is_file():
            return
        kept = [line for line in path.read_text().splitlines()
                if line.strip() and json.loads(line).get("epoch", 0) <= epochs_done]
        tmp = "\n".join(kept) + ("\n" if kept else "")
        write_text = path.with_suffix(".jsonl.tmp")
        write_text.write_text(tmp)
        write_text.replace(path)

