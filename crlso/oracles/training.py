"""The **training oracle** (``train``) trains the discrete network of each proposed genotype with
darts_backend's train loop (`darts_backend.runs.train.run_train`) at a proxy budget (`TrainProxy`:
epochs, images, channels, cells) and answers its top-1 accuracy, in percent, on a validation share
carved from the train images (``valid_fraction`` of the ``images`` drawn). The test split is never
loaded (``TrainConfig.test=False``). The cost of a query is the measured training seconds (the
per-epoch seconds of the train loop, evaluation of the held-out share included).

Every evaluation is a resumable unit in its own folder, ``<folder>/<key>/`` (key: a hash of the
genotype string): ``genotype.json``, ``train/`` (darts_backend's run folder: ``checkpoint.pt`` after
every epoch) and, once finished, ``evaluation.json``. A finished evaluation is read back and never
run again; a killed one resumes from its last epoch's checkpoint (or restarts when it had none).
Every evaluation trains with the proxy's own seed, so the value of a genotype does not depend on
when, where or beside what it ran: a batch gives the same values on 1 or N workers, local or Ray.

Presets (our choices; the paper presets are sized like the published low-fidelity settings):

- ``cpu`` (nb201): C=16, N=1, 8 epochs on 5,000 CIFAR-10 train images (30 % held out), batch 128, lr 0.1.
- ``cpu`` (darts): C=8, 5 cells, 2 epochs on 2,000 images (a quarter held out), batch 64.
- ``paper`` (nb201): NAS-Bench-201's setting at its 12-epoch low fidelity: C=16, N=5, batch 256, lr 0.1,
  weight decay 5e-4, on the whole train split less a 50 % held-out share (NB201's cifar10-valid split).
- ``paper`` (darts): C=16, 8 cells, 10 epochs, batch 96, lr 0.025 (the DARTS search network's size
  and the DARTS evaluation's optimiser, for 10 epochs), a 50 % held-out share.

Measured (``crlso oracle-bench --cells 30 --seed 0``, one worker, sharing 2 cores with 2 other jobs):
the ``cpu`` preset ranks 30 random NB201 cells at Kendall tau 0.59 (Spearman 0.82) against the table's
``valid_acc``, 72 CPU-s a cell (36 min for 30); the networks reach 45-54 % held-out accuracy. The
preset before it (C=8, N=1, 4 epochs on 2,000 images, batch 64, lr 0.025) ranked the same 30 cells at
tau -0.02: its networks reached 28-38 %, i.e. barely trained. The budget was chosen before measuring,
then probed on 3 cells of another seed (7); it was not tuned on the 30.

The final presets (`final_preset`) are the longer budgets of ``crlso finalize`` (whole train split, test split scored):
``paper`` is the published training (NB201: 200 epochs, C=16, N=5; DARTS: 600 epochs, C=36, 20
cells, batch 96, without the auxiliary head and drop-path the DARTS paper adds), ``cpu`` a CPU-sized one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasspace import Genotype
from nasspace.atomic import write_json_atomic
from nasspace.options import AT_LEAST_ONE, POSITIVE, Bounds, check_numbers
from nasspace.oracle import Oracle

from crlso.execution.executors import Executor, TaskResources
from crlso.oracles.registry import OracleContext, PickedOracle, register_oracle
from crlso.errors import ConfigError

__all__ = [
    "TRAIN_METRIC",
    "TrainProxy",
    "proxy_preset",
    "final_preset",
    "Evaluation",
    "TrainingOracle",
    "train_cells",
    "evaluation_key",
    "training_oracle",
]

TRAIN_METRIC = "train_proxy_acc"
"""The search metric of the training oracle: held-out top-1 accuracy (%) after the proxy training."""

SPACES = ("nb201", "darts")


@dataclass(frozen=True)
class TrainProxy:
    """A training budget: what each evaluation trains, on what, and with which resources.

    Attributes:
        space: ``nb201`` or ``darts`` (sets what ``cells`` means).
        data: images to train on (CIFAR-10 archive, image folder or tar, or ``synthetic``).
        epochs, images, channels, cells, batch_size: the proxy's size (``images``: train images drawn,
            None for all; ``cells``: NB201 cells per stage, DARTS cells in all).
        valid_fraction: share of the drawn images held out and scored (never trained on); 0 only with ``test``.
        test: train on all drawn images and score the test split (``crlso finalize``; never during a search).
        limit_test: test images scored (None: the whole split).
        lr, weight_decay: SGD (Nesterov, momentum 0.9, cosine to 0).
        seed: of the image draw, the split, the initialisation and the batches: the same for every cell.
        threads: torch CPU threads of one evaluation (a Ray task reserves as many CPUs).
        num_gpus: GPUs a Ray task reserves (a fraction shares one GPU between evaluations).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    """

    space: str = "nb201"
    data: str = "synthetic"
    epochs: int = 4
    images: int | None = 2000
    channels: int = 8
    cells: int = 1
    batch_size: int = 64
    valid_fraction: float = 0.25
    test: bool = False
    limit_test: int | None = None
    lr: float = 0.025
    weight_decay: float = 3e-4
    seed: int = 0
    threads: int = 1
    num_gpus: float = 0.0
    device: str = "auto"

    def __post_init__(self) -> None:
        check_numbers(self, {**dict.fromkeys(("epochs", "images", "channels", "cells", "batch_size", "threads",
                                              "limit_test"), AT_LEAST_ONE),
                             "lr": POSITIVE, "seed": Bounds(None), "valid_fraction": Bounds(0.0, 1.0, high_open=True)})
        if self.space not in SPACES:
            raise ConfigError(f"the training oracle trains nb201 or darts cells, not space {self.space!r}; valid: {', '.join(SPACES)}")
        if not self.test and self.valid_fraction == 0.0:
            raise ConfigError("a search-time proxy scores a held-out share of the train images: give valid_fraction > 0")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "TrainProxy":
        """The proxy of a run folder's config (unknown keys are an error naming the valid ones)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names - {"name"})
        if unknown:
            raise ConfigError(f"unknown training-oracle setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}")
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_json(self) -> dict[str, Any]:
        return {"name": "train", **dataclasses.asdict(self)}

    def check_space(self, space: str) -> None:
        """Raises ConfigError when the proxy trains cells of another space than the search's."""
        if self.space != space:
            raise ConfigError(f"the training oracle is set up for {self.space} cells, the search is in {space}")

    @property
    def resources(self) -> TaskResources:
        return TaskResources(num_cpus=float(self.threads), num_gpus=float(self.num_gpus))


_PROXY_PRESETS: dict[tuple[str, str], dict[str, Any]] = {
    ("cpu", "nb201"): {"epochs": 8, "images": 5000, "channels": 16, "cells": 1, "batch_size": 128, "valid_fraction": 0.3,
                       "lr": 0.1},
    ("cpu", "darts"): {"epochs": 2, "images": 2000, "channels": 8, "cells": 5, "batch_size": 64, "valid_fraction": 0.25},
    ("paper", "nb201"): {"epochs": 12, "images": None, "channels": 16, "cells": 5, "batch_size": 256,
                         "valid_fraction": 0.5, "lr": 0.1, "weight_decay": 5e-4},
    ("paper", "darts"): {"epochs": 10, "images": None, "channels": 16, "cells": 8, "batch_size": 96,
                         "valid_fraction": 0.5, "lr": 0.025, "weight_decay": 3e-4},
}
_FINAL_PRESETS: dict[tuple[str, str], dict[str, Any]] = {
    ("cpu", "nb201"): {"epochs": 10, "images": 10000, "channels": 8, "cells": 1, "batch_size": 64, "limit_test": 2000},
    ("cpu", "darts"): {"epochs": 5, "images": 10000, "channels": 8, "cells": 5, "batch_size": 64, "limit_test": 2000},
    ("paper", "nb201"): {"epochs": 200, "images": None, "channels": 16, "cells": 5, "batch_size": 256, "lr": 0.1,
                         "weight_decay": 5e-4},
    ("paper", "darts"): {"epochs": 600, "images": None, "channels": 36, "cells": 20, "batch_size": 96, "lr": 0.025,
                         "weight_decay": 3e-4},
}
PRESETS = ("cpu", "paper")


def _preset(table: dict[tuple[str, str], dict[str, Any]], name: str, space: str, overrides: Mapping[str, Any],
            **fixed: Any) -> TrainProxy:
    if name not in PRESETS:
        raise ConfigError(f"unknown proxy preset {name!r}; valid: {', '.join(PRESETS)}")
    if space not in SPACES:
        raise ConfigError(f"no training preset for space {space!r}; valid: {', '.join(SPACES)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    return TrainProxy(**{**table[name, space], **fixed, **given, "space": space})


def proxy_preset(name: str, space: str, **overrides: Any) -> TrainProxy:
    """The search-time proxy of preset ``name`` (``cpu`` or ``paper``) for ``space``; overrides that are not None win.

    Raises:
        ValueError: unknown preset or space, or an override out of range.
    """
    return _preset(_PROXY_PRESETS, name, space, overrides, test=False)


def final_preset(name: str, space: str, **overrides: Any) -> TrainProxy:
    """The final-evaluation budget of preset ``name``: whole drawn train set, the test split scored."""
    return _preset(_FINAL_PRESETS, name, space, overrides, test=True, valid_fraction=0.0)


def evaluation_key(genotype: Genotype) -> str:
    """The folder name of a genotype's evaluation: 16 hex digits of the SHA-1 of its canonical string."""
    return hashlib.sha1(str(genotype).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Evaluation:
    """One finished evaluation (``evaluation.json``).

    Attributes:
        genotype: canonical string.
        value: held-out accuracy (%) with a search proxy, test accuracy (%) with a final (``test``) budget.
        cost: measured training seconds (sum of the train loop's epoch times, over every session).
        wall_seconds: wall time of the session that finished it (data loading and set-up included).
        params, flops: of the trained network, in millions (FLOPs: multiply-adds).
        valid_acc_percent, test_acc_percent: the accuracies darts_backend reported (None where not measured).
    """

    genotype: str
    value: float
    cost: float
    wall_seconds: float
    params: float
    flops: float
    valid_acc_percent: float | None
    test_acc_percent: float | None
    folder: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class _Task:
    genotype: dict[str, Any]
    folder: str
    proxy: TrainProxy


def _evaluate(task: _Task) -> dict[str, Any]:
    """Run (or resume, or read back) one evaluation in its folder; returns ``evaluation.json``'s content."""
    folder = Path(task.folder)
    done = folder / "evaluation.json"
    if done.is_file():
        return json.loads(done.read_text())
    from darts_backend.runs.train import TrainConfig, accuracy_percent, run_train
    from darts_backend.runs.trainer import CHECKPOINT

    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    genotype_file = folder / "genotype.json"
    if not genotype_file.is_file():
        write_json_atomic(genotype_file, task.genotype)
    proxy, train_dir = task.proxy, folder / "train"
    config = TrainConfig(genotype=str(genotype_file), data=proxy.data, seed=proxy.seed, channels=proxy.channels,
                         cells=proxy.cells, epochs=proxy.epochs, batch_size=proxy.batch_size, limit_train=proxy.images,
                         limit_test=proxy.limit_test, valid_fraction=proxy.valid_fraction, test=proxy.test,
                         lr=proxy.lr, weight_decay=proxy.weight_decay, threads=proxy.threads, device=proxy.device)
    result = run_train(config, train_dir, resume=(train_dir / CHECKPOINT).is_file(), progress=False)
    epochs: dict[int, float] = {}  # the last record of each epoch (a killed session may have logged one twice)
    for line in (train_dir / "metrics.jsonl").read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            epochs[int(record["epoch"])] = float(record["seconds"])
    valid, test = accuracy_percent(result, "valid_acc"), accuracy_percent(result, "test_acc")
    evaluation = Evaluation(genotype=result["genotype"], value=float(test if proxy.test else valid), cost=sum(epochs.values()),
                            wall_seconds=time.perf_counter() - started, params=result["params"], flops=result["flops"],
                            valid_acc_percent=valid, test_acc_percent=test, folder=folder.name)
    write_json_atomic(done, evaluation.to_json())
    return evaluation.to_json()


_MAY_DIFFER = frozenset({"threads", "num_gpus", "device"})
"""Proxy settings that change where an evaluation runs, not its value: free to differ on resume."""


def _check_proxy(root: Path, proxy: TrainProxy) -> None:
    """Record the proxy in ``root/proxy.json``, or refuse a folder whose evaluations used another one."""
    settings = {k: v for k, v in proxy.to_json().items() if k not in _MAY_DIFFER}
    path = root / "proxy.json"
    if path.is_file():
        stored = json.loads(path.read_text())
        changed = sorted(k for k in set(stored) | set(settings) if stored.get(k) != settings.get(k))
        if changed:
            raise ConfigError(f"{root} holds evaluations of another training budget ({', '.join(changed)} differ); "
                              "use the same settings or another folder")
        return
    root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, settings)


def train_cells(genotypes: Sequence[Genotype], proxy: TrainProxy, folder: str | Path, *,
                executor: Executor | None = None, progress: bool = False, desc: str = "evaluations") -> list[Evaluation]:
    """Train every genotype at ``proxy`` in ``folder/<key>/``, through ``executor`` (None: here, one by one).

    Finished evaluations are read back, killed ones resume. Results come in the order of ``genotypes``.
    ``folder/proxy.json`` records the budget; a folder trained with another budget is refused.

    Raises:
        ValueError: a genotype of another space than the proxy's, or a folder of another budget.
        TaskFailed: an evaluation failed on every attempt (through an executor).
    """
    for genotype in genotypes:
        if genotype.space_name != proxy.space:
            raise ConfigError(f"the {proxy.space} training proxy cannot train {genotype.space_name} genotype {genotype}")
    root = Path(folder).resolve()
    _check_proxy(root, proxy)
    tasks = [_Task(g.to_json(), str(root / evaluation_key(g)), proxy) for g in genotypes]
    if executor is None:
        results = [_evaluate(task) for task in tasks]
    else:
        results = executor.map(_evaluate, tasks, desc=desc, progress=progress, resources=proxy.resources)
    return [Evaluation(**r) for r in results]


class TrainingOracle:
    """The objective and cost of an `Oracle` that trains each genotype (see the module docstring).

    `prefetch` evaluates a batch at once through the executor; the oracle then charges the batch's
    genotypes one by one, in the order the searcher proposed them, from what was prefetched.

    Args:
        proxy: the training budget.
        folder: where the evaluation folders live (a run folder's ``evaluations/``).
        executor: runs a batch's evaluations in parallel (None: in this process, one by one).
    """

    def __init__(self, proxy: TrainProxy, folder: str | Path, *, executor: Executor | None = None):
        self.proxy, self.folder, self.executor = proxy, Path(folder), executor
        self.done: dict[str, Evaluation] = {}

    def prefetch(self, genotypes: Sequence[Genotype]) -> None:
        """Evaluate the genotypes not evaluated yet, in parallel."""
        todo = {str(g): g for g in genotypes if str(g) not in self.done}
        if todo:
            for evaluation in train_cells(list(todo.values()), self.proxy, self.folder, executor=self.executor):
                self.done[evaluation.genotype] = evaluation

    def evaluation(self, genotype: Genotype) -> Evaluation:
        if str(genotype) not in self.done:
            self.prefetch([genotype])
        return self.done[str(genotype)]

    def value(self, genotype: Genotype) -> float:
        return self.evaluation(genotype).value

    def cost(self, genotype: Genotype) -> float:
        return self.evaluation(genotype).cost

    def info(self, genotype: Genotype) -> dict[str, Any]:
        """What a run log records of an evaluation beside value and cost."""
        e = self.evaluation(genotype)
        return {"wall_seconds": round(e.wall_seconds, 3), "params": e.params, "flops": e.flops,
                "evaluation": f"evaluations/{e.folder}"}


@register_oracle("train", spec=TrainProxy, summary="trains each queried cell at a proxy budget (darts_backend)")
def training_oracle(proxy: TrainProxy, context: OracleContext) -> PickedOracle:
    """Each query trains the cell (`TrainingOracle`); evaluations live in ``context.out/evaluations``. The
    space's table, if it has one, only reports after the search (its budget is checked against it)."""
    from crlso.oracles.table import check_budget, has_table, load_table

    table = None
    if has_table(context.space):
        table = check_budget(load_table(context.dataset, context.data_dir, context.space), context.budget, context.dataset)
    trainer = TrainingOracle(proxy, context.out / "evaluations", executor=context.executor)
    oracle = Oracle(trainer.value, cost=trainer.cost, budget=context.budget, cost_budget=context.budget_seconds,
                    metric=context.metric)
    return PickedOracle(oracle, table, None, trainer.prefetch, trainer.info)
