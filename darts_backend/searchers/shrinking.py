"""Super-network shrinking shared by DNAD and FX-DARTS: single-level steps, permanent deletion, snapshots.

A `ShrinkingSearcher` drives a ``per_cell`` `DartsSearchNetwork`. Every step updates weights (Adam)
and alphas from one batch and one loss: ``method.combine(CE + kd_weight * KD, regulariser)``.
After the warm-up, every `ShrinkConfig.prune_every` steps the host runs one *check* (the only
host-device synchronisation of the method): pairs the method marks are deleted for good
(`DartsSearchNetwork.delete`, which drops emptied nodes and keeps every cell valid), the method adapts
its coefficients, and a snapshot of the current genotype is recorded when the method asks for one or
when the parameter count crosses the next milestone (every `ShrinkConfig.milestone` fraction of the
size at the end of the warm-up). Snapshots keep a strictly decreasing FLOP count: a candidate no
smaller than the last snapshot is not recorded, except one the method asked for, which replaces it. Each snapshot holds the ``flex`` genotype, its
parameters and FLOPs (millions, `networks.darts.genotype_cost` at the supernet's C and cell count),
its *held-out accuracy* ``heldout_acc`` (the accuracy of the supernet, whose alive pairs are then exactly
that architecture, on images it never trains on, measured by the `score` callable the run passes in; NaN
without one) and, for diagnosis only, its *search accuracy*: the supernet's mean training-batch accuracy
since the previous check. A Pareto set is selected on the held-out accuracy (`darts_backend.runs.pareto`),
never on the search accuracy, which rewards overfitting the training batches.
"""

from __future__ import annotations

import json
import math
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.nn.functional as F

from darts_backend.searchers.distill import DEFAULT_STAGE_WEIGHTS, FeatureDistiller
from darts_backend.networks import count_parameters
from darts_backend.networks.darts import DartsNetwork, genotype_cost
from darts_backend.searchers.base import Batch, Searcher, SearcherConfig, autocast_dtype
from darts_backend.supernets.darts import DartsSearchNetwork
from nasspace.flex import FlexGenotype, FlexSpace
from darts_backend.errors import ConfigError

__all__ = ["ShrinkConfig", "ShrinkingSearcher", "Snapshot"]

C = TypeVar("C", bound="ShrinkConfig")


@dataclass(frozen=True)
class ShrinkConfig(SearcherConfig):
    """Settings shared by the shrinking methods (defaults: DNAD's).

    Attributes (beyond `SearcherConfig`, whose ``w_*`` now configure Adam and ``a_*`` the alpha optimiser,
    and whose ``grad_clip`` bounds the weights, the alphas and the distiller's adapters, each on its own):
        w_betas: Adam betas of the weights.
        a_optimizer: ``"sgd"`` or ``"adam"`` for the alphas.
        a_momentum: SGD momentum of the alphas.
        warmup_epochs: epochs without regulariser or deletion.
        prune_every: steps between checks (deletion, adaptation, snapshots; one host sync each).
        milestone: also snapshot at every drop of this fraction of the warm-up-end parameter count (0: off).
        kd_weight: lambda, weight of the distillation loss (used only with a teacher).
        stage_weights: distillation weight of each stage.
        train_after_finish: once shrinking has finished, keep training the final architecture's weights
            for the rest of the loop (True) or skip the remaining steps (False).
    """

    w_lr: float = 5e-4
    w_lr_min: float = 5e-4
    w_betas: tuple[float, float] = (0.5, 0.999)
    w_weight_decay: float = 3e-4
    a_optimizer: str = "sgd"
    a_lr: float = 0.2
    a_momentum: float = 0.0
    a_weight_decay: float = 0.0
    warmup_epochs: int = 1
    prune_every: int = 10
    milestone: float = 0.1
    kd_weight: float = 1.0
    stage_weights: tuple[float, ...] = DEFAULT_STAGE_WEIGHTS
    train_after_finish: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.a_optimizer not in ("sgd", "adam"):
            raise ConfigError(f"a_optimizer must be 'sgd' or 'adam', got {self.a_optimizer!r}")
        if self.warmup_epochs < 0 or self.prune_every < 1:
            raise ConfigError(f"warmup_epochs must be >= 0 and prune_every >= 1, got {self.warmup_epochs}, {self.prune_every}")
        if not 0.0 <= self.milestone < 1.0:
            raise ConfigError(f"milestone must be in [0, 1), got {self.milestone}")

    @classmethod
    def coerce(cls: type[C], config: SearcherConfig | None) -> C:
        """`config` if it already is this class; from a plain `SearcherConfig` only ``epochs`` and
        ``mixed_precision`` are taken (its learning rates belong to another optimiser)."""
        if isinstance(config, cls):
            return config
        if config is None:
            return cls()
        return cls(epochs=config.epochs, mixed_precision=config.mixed_precision)


@dataclass(frozen=True)
class Snapshot:
    """One point of the emitted set."""

    genotype: FlexGenotype
    params: float
    flops: float
    search_acc: float
    step: int
    epoch: int
    reason: str
    heldout_acc: float = math.nan

    def to_json(self) -> dict[str, Any]:
        """The genotype's shared-format JSON plus ``params``, ``flops`` (millions) and the search record
        (``heldout_acc`` is None when it was not measured)."""
        heldout = None if math.isnan(self.heldout_acc) else round(self.heldout_acc, 6)
        return {**self.genotype.to_json(), "params": round(self.params, 6), "flops": round(self.flops, 6),
                "heldout_acc": heldout, "search_acc": round(self.search_acc, 6), "step": self.step,
                "epoch": self.epoch, "reason": self.reason}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Snapshot":
        genotype = FlexSpace().from_json(data)
        assert isinstance(genotype, FlexGenotype)
        heldout = data.get("heldout_acc")
        return cls(genotype, float(data["params"]), float(data["flops"]), float(data["search_acc"]),
                   int(data["step"]), int(data["epoch"]), str(data["reason"]),
                   math.nan if heldout is None else float(heldout))


class ShrinkingSearcher(Searcher):
    """Base of the shrinking methods (see the module docstring).

    Args:
        network: a ``per_cell`` `DartsSearchNetwork` on its device.
        config: the method's config (a plain `SearcherConfig` contributes only its epochs).
        distiller: optional feature distiller (its adapters train with the weights).
        input_size: ``(3, H, W)`` of the images, for FLOP counts.
        score: the held-out accuracy of the supernet as it stands (called once per snapshot, at a check,
            so its host read adds no sync to a step; it must leave the network in training mode). None:
            snapshots carry no ``heldout_acc``.

    Raises:
        ValueError: the network is not in ``per_cell`` mode.
    """

    config_class: type[ShrinkConfig] = ShrinkConfig

    def __init__(self, network: DartsSearchNetwork, config: SearcherConfig | None = None, *,
                 distiller: FeatureDistiller | None = None, input_size: tuple[int, int, int] = (3, 32, 32),
                 score: Callable[[DartsSearchNetwork], float] | None = None):
        if not isinstance(network, DartsSearchNetwork) or network.mode != "per_cell":
            raise ConfigError(f"{type(self).__name__} searches the DARTS space: it needs a DartsSearchNetwork in 'per_cell' mode "
                              "(CLI: --space darts)")
        cfg = self.config_class.coerce(config)
        self.network, self.config, self.distiller, self.input_size = network, cfg, distiller, input_size
        self.score = score
        weights = network.weight_parameters() + (distiller.adapter_parameters() if distiller else [])
        self.w_optimizer = torch.optim.Adam(weights, lr=cfg.w_lr, betas=cfg.w_betas, weight_decay=cfg.w_weight_decay)
        if cfg.a_optimizer == "sgd":
            self.a_optimizer: torch.optim.Optimizer = torch.optim.SGD(
                network.arch_parameters(), lr=cfg.a_lr, momentum=cfg.a_momentum, weight_decay=cfg.a_weight_decay)
        else:
            self.a_optimizer = torch.optim.Adam(network.arch_parameters(), lr=cfg.a_lr, betas=cfg.a_betas,
                                                weight_decay=cfg.a_weight_decay)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.w_optimizer, T_max=cfg.epochs, eta_min=cfg.w_lr_min)
        self.epoch = 0
        self.autocast_dtype = autocast_dtype(network.alphas.device, cfg.mixed_precision)
        self.steps = 0
        self.steps_per_epoch = 0
        self.finished = False
        self.snapshots: list[Snapshot] = []
        self.start_params: float | None = None
        self.next_level = 1
        device = network.alphas.device
        self._acc_sum = torch.zeros((), device=device)
        self._acc_count = 0.0
        self._last_reg = torch.zeros((), device=device)
        self._metric_keys: tuple[str, ...] = ()

    # -- method hooks ------------------------------------------------------------------------------
    @abstractmethod
    def regularizer(self, weights: torch.Tensor) -> torch.Tensor:
        """0-dim regulariser of the ``(G, E, O)`` pair weights."""

    @abstractmethod
    def combine(self, task: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
        """The total loss from the task loss (CE + lambda KD) and the regulariser."""

    @abstractmethod
    def deletion_mask(self, weights: torch.Tensor) -> torch.Tensor:
        """``(G, E, O)`` bool: alive pairs to delete now."""

    @abstractmethod
    def adapt(self, deleted: int, reg: float) -> str | None:
        """Update coefficients after a check; return a snapshot reason to force one (else None)."""

    def extra_state(self) -> dict[str, Any]:
        """Method scalars for `state_dict` (plain floats/ints)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore `extra_state`."""

    # -- the step ----------------------------------------------------------------------------------
    @property
    def in_warmup(self) -> bool:
        return self.epoch < self.config.warmup_epochs

    def train_step(self, train_batch: Batch, valid_batch: Batch | None = None) -> dict[str, torch.Tensor]:
        """One single-level step on `train_batch` (``x (B, 3, H, W)``, ``y (B,)``); `valid_batch` is ignored.

        Once the method has finished shrinking (``finished``), the remaining steps of the loop train the
        weights of the final architecture only (no regulariser, no alpha update, no check), so the
        epoch metrics stay meaningful (``ShrinkConfig.train_after_finish=False`` skips them instead).
        """
        if self.finished and not self.config.train_after_finish:
            device = train_batch[0].device
            return {k: torch.zeros((), device=device) for k in self._metric_keys}
        x, y = train_batch
        self._zero_grad()
        kd = None
        with self._autocast(x):  # the adapters read the student's (possibly bf16) features inside it too
            if self.distiller is not None:
                logits, features = self.network(x, return_features=True)
                kd = self.distiller(x, features).float()
            else:
                logits = self.network(x)
        ce = F.cross_entropy(logits.float(), y)
        task = ce
        metrics: dict[str, torch.Tensor] = {"ce": ce.detach()}
        if kd is not None:
            task = ce + self.config.kd_weight * kd
            metrics["kd"] = kd.detach()
        if self.in_warmup or self.finished:
            loss = task
        else:
            reg = self.regularizer(self.network.pair_weights())
            loss = self.combine(task, reg)
            self._last_reg = reg.detach()
        loss.backward()
        self._clip_gradients()
        self.w_optimizer.step()
        acc = (logits.detach().argmax(dim=1) == y).float().mean()
        metrics.update({"loss": loss.detach(), "acc": acc, "reg": self._last_reg})
        metrics.update(self.extra_metrics(acc.device))
        self._metric_keys = tuple(metrics)
        if self.finished:
            return metrics
        self.a_optimizer.step()
        self._acc_sum = self._acc_sum + acc
        self._acc_count += 1.0
        self.steps += 1
        if not self.in_warmup and self.steps % self.config.prune_every == 0:
            self.check()
        return metrics

    def _clip_gradients(self) -> None:
        """Clip the global gradient norm of each group to ``grad_clip``: the weights, the alphas and the
        distiller's adapters, each on its own (as NADD clips all three; no host sync)."""
        if self.config.grad_clip <= 0:
            return
        groups = [self.network.weight_parameters(), self.network.arch_parameters()]
        if self.distiller is not None:
            groups.append(self.distiller.adapter_parameters())
        for params in groups:
            torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip, foreach=True)

    def extra_metrics(self, device: torch.device) -> dict[str, torch.Tensor]:
        """Method coefficients to log with each step (0-dim tensors on `device`, no sync)."""
        return {}

    def plan(self, steps_per_epoch: int) -> None:
        """Steps per epoch, known before the first step, so schedules hold from step 1 even without warm-up.

        Raises:
            ValueError: `steps_per_epoch` < 1.
        """
        if steps_per_epoch < 1:
            raise ConfigError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
        self.steps_per_epoch = steps_per_epoch

    def end_epoch(self) -> None:
        """Advance the schedule; at the end of the warm-up, record the starting point of the set."""
        super().end_epoch()
        if self.epoch == 1 and self.steps_per_epoch == 0:  # a loop that never called `plan`
            self.steps_per_epoch = self.steps
        if self.epoch < self.config.warmup_epochs:  # the warm-up-end point reports its last epoch only
            self._acc_sum = torch.zeros_like(self._acc_sum)
            self._acc_count = 0.0
        if self.epoch == self.config.warmup_epochs and self.start_params is None:
            self._begin_shrinking()

    def _begin_shrinking(self) -> None:
        self.on_shrink_start()
        self._snapshot("warmup_end", force=True)
        self.start_params = self.snapshots[-1].params if self.snapshots else None

    def on_shrink_start(self) -> None:
        """Hook run once when shrinking starts (after the warm-up)."""

    @torch.no_grad()
    def check(self) -> None:
        """Delete, adapt, maybe snapshot (one host sync)."""
        if self.start_params is None:
            self._begin_shrinking()
        weights = self.network.pair_weights()
        remove = self.deletion_mask(weights) & self.network.alive
        deleted = self.network.delete(remove) if bool(remove.any()) else 0
        reason = self.adapt(deleted, float(self._last_reg))
        if reason is not None:
            self._snapshot(reason, force=True)
        elif deleted and self.config.milestone > 0 and self.start_params:
            level = self.start_params * (1 - self.config.milestone) ** self.next_level
            cost = self._cost(self.network.flex_genotype(), flops=False)
            if cost[0] <= level:
                while self.start_params * (1 - self.config.milestone) ** self.next_level >= cost[0]:
                    self.next_level += 1
                self._snapshot("milestone")
        # search accuracy: exponentially decayed window (half-life one check)
        self._acc_sum = self._acc_sum * 0.5
        self._acc_count *= 0.5

    def finalize(self) -> list[Snapshot]:
        """Record the final genotype (if smaller than the last snapshot) and return the set."""
        self._snapshot("final")
        return self.snapshots

    # -- snapshots ---------------------------------------------------------------------------------
    def _cost(self, genotype: FlexGenotype, flops: bool = True) -> tuple[float, float]:
        """``(params, flops)`` in millions at the supernet's size (FLOPs NaN when not asked)."""
        net = self.network
        kwargs = {"C": net.C, "num_cells": len(net.layout), "num_classes": net.classifier.out_features,
                  "stem_multiplier": net.stem[0].out_channels // net.C}
        if flops:
            cost = genotype_cost(genotype, input_size=self.input_size, **kwargs)
            return cost.params, cost.flops
        return count_parameters(DartsNetwork(genotype, **kwargs)), float("nan")

    def _snapshot(self, reason: str, force: bool = False) -> None:
        """Record the current genotype if its FLOPs are below the last point's.

        A `force`d point (one the method asked for) is always recorded: when its FLOPs did not drop (the
        supernet only shrinks, so they are equal), it replaces the last point, which keeps the set's
        FLOPs strictly decreasing.
        """
        genotype = self.network.flex_genotype()
        params, flops = self._cost(genotype)
        if self.snapshots and flops >= self.snapshots[-1].flops:
            if not force:
                return
            self.snapshots.pop()
        acc = float(self._acc_sum) / max(self._acc_count, 1e-9)
        heldout = math.nan if self.score is None else float(self.score(self.network))
        self.snapshots.append(Snapshot(genotype, params, flops, acc, self.steps, self.epoch, reason, heldout))

    def genotype(self) -> FlexGenotype:
        """The current (alive) flex genotype."""
        return self.network.flex_genotype()

    def genotypes(self) -> list[FlexGenotype]:
        """The emitted set so far, largest first."""
        return [s.genotype for s in self.snapshots]

    def alpha_probabilities(self) -> list[list[list[float]]]:
        """``(G, E, O)`` normalised pair weights."""
        return self.network.pair_weights().detach().float().cpu().tolist()

    # -- state -------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the search identically (plain data + tensors)."""
        state = super().state_dict()
        state.update({
            "adapters": self.distiller.adapters.state_dict() if self.distiller is not None else {},
            "scalars": json.dumps({"steps": self.steps, "steps_per_epoch": self.steps_per_epoch,
                                   "finished": self.finished, "start_params": self.start_params,
                                   "next_level": self.next_level, "acc_count": self._acc_count,
                                   "extra": self.extra_state()}),
            "acc_sum": self._acc_sum.detach().clone(),
            "last_reg": self._last_reg.detach().clone(),
            "snapshots": json.dumps([s.to_json() for s in self.snapshots]),
        })
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a `state_dict` (the network's plan is rebuilt from its ``alive`` mask)."""
        super().load_state_dict(state)
        if self.distiller is not None and state.get("adapters"):
            self.distiller.adapters.load_state_dict(state["adapters"])
        scalars = json.loads(state["scalars"])
        self.steps, self.steps_per_epoch = int(scalars["steps"]), int(scalars["steps_per_epoch"])
        self.finished, self.start_params = bool(scalars["finished"]), scalars["start_params"]
        self.next_level, self._acc_count = int(scalars["next_level"]), float(scalars["acc_count"])
        self.load_extra_state(scalars["extra"])
        self._acc_sum = state["acc_sum"].to(self.network.alphas.device)
        self._last_reg = state["last_reg"].to(self.network.alphas.device)
        self.snapshots = [Snapshot.from_json(d) for d in json.loads(state["snapshots"])]

