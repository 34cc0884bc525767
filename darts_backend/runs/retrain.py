"""Retraining every member of a set-emitting search and attaching its accuracy to the set file.

Member *i* of ``RUN/genotypes.json`` (or, with ``set_file="snapshots.json"``, of every snapshot, front
or not) trains from scratch with `runs.train.run_train` in
``RUN/retrain/<i>/`` on the training images less a held-out share (`TrainConfig.valid_fraction` > 0).
As soon as it finishes, ``genotypes.json`` is rewritten atomically with the member's
``retrained_acc`` (top-1 on that held-out share: the Pareto axis), ``retrained_test_acc`` (the test
split, to report only) and a ``retrain`` record (folder, settings). So an interrupted call resumes: a
member already carrying a record with the same settings is skipped, and the member in progress continues
from its own ``checkpoint.pt``. Once every member is measured, each gets ``retrained_front`` (on the
Pareto front of ``retrained_acc`` against the cost axis) and ``RUN/pareto.png`` is redrawn from them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from darts_backend.runs.files import write_json
from darts_backend.runs.pareto import COST_AXES, pareto_indices, plot_pareto
from darts_backend.runs.train import TrainConfig, accuracy_percent, run_train
from darts_backend.errors import ConfigError

__all__ = ["SET_FILES", "retrain_set"]

SET_FILES = {"genotypes.json": "retrain", "snapshots.json": "retrain_snapshots"}
"""The set files a run folder holds, and the folder their members retrain in."""
_NOT_SETTINGS = frozenset({"genotype", "index", "device", "threads", "compile"})
"""TrainConfig fields that do not change what a member's accuracy means (they may differ on resume)."""


def _settings(config: TrainConfig) -> dict[str, Any]:
    return {k: v for k, v in asdict(config).items() if k not in _NOT_SETTINGS}


def _read_set(path: Path) -> list[dict[str, Any]]:
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the set {path}: {exc}") from None
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) and "space" in e for e in entries):
        raise ConfigError(f"{path}: expected a non-empty JSON list of genotypes (a dnad/fx-darts run's set file)")
    return entries


def _check_settings(entries: list[dict[str, Any]], path: Path, folder: Path, settings: dict[str, Any]) -> None:
    """Refuse to mix settings: a member recorded, or a member folder started, with others (before any work)."""
    for i, entry in enumerate(entries):
        stored = entry.get("retrain", {}).get("settings")
        config_file = folder / str(i) / "config.json"
        if stored is None and config_file.is_file():
            stored = {k: v for k, v in json.loads(config_file.read_text()).items() if k in settings}
        if stored is not None and stored != settings:
            changed = sorted(k for k in set(stored) | set(settings) if stored.get(k) != settings.get(k))
            raise ConfigError(f"member {i} of {path} was retrained with other settings "
                              f"({', '.join(changed)}); use the same flags to resume")


def retrain_set(run_dir: str | Path, train: TrainConfig, *, cost: str | None = None, set_file: str = "genotypes.json",
                progress: bool = True) -> list[dict[str, Any]]:
    """Retrain each member of ``run_dir/set_file`` (skipping finished ones); returns the updated set.

    Args:
        run_dir: a ``dnad`` / ``fx-darts`` run folder.
        train: the training settings of every member (``genotype`` and ``index`` are set per member);
            ``valid_fraction`` must be > 0, since the set's accuracy axis is held-out accuracy.
        cost: ``params`` or ``flops`` for the front and the plot (None: the run's ``pareto_axis``, else params).
        set_file: ``genotypes.json`` (the emitted set) or ``snapshots.json`` (every snapshot).
        progress: show each member's progress bar.

    Raises:
        ValueError: no set file, no held-out share, an unknown axis, or members trained with other settings.
    """
    run = Path(run_dir)
    if set_file not in SET_FILES:
        raise ConfigError(f"unknown set file {set_file!r}; valid: {', '.join(SET_FILES)}")
    path = run / set_file
    if not path.is_file():
        raise ConfigError(f"{run} holds no {set_file}; give the folder of a dnad or fx-darts search run")
    if train.valid_fraction <= 0:
        raise ConfigError("retraining a set needs a held-out share (valid_fraction > 0): the Pareto axis is the "
                          "accuracy on images the member never trained on")
    if cost is None:
        run_config = run / "config.json"
        cost = json.loads(run_config.read_text()).get("pareto_axis", "params") if run_config.is_file() else "params"
    if cost not in COST_AXES:
        raise ConfigError(f"unknown cost axis {cost!r}; valid: {', '.join(COST_AXES)}")
    entries = _read_set(path)
    folder = run / SET_FILES[set_file]
    settings = _settings(train)
    _check_settings(entries, path, folder, settings)
    for i, entry in enumerate(entries):
        if entry.get("retrain", {}).get("settings") == settings and "retrained_acc" in entry:
            continue
        member_dir = folder / str(i)
        result = run_train(replace(train, genotype=str(path), index=i), member_dir,
                           resume=(member_dir / "checkpoint.pt").is_file(), progress=progress)
        entries = _read_set(path)  # as on disk (only this call writes it)
        entries[i] = {**entries[i], "retrained_acc": _fraction(result, "valid_acc"), "retrained_test_acc": _fraction(result, "test_acc"),
                      "retrain": {"dir": f"{folder.name}/{i}", "epochs": train.epochs, "settings": settings}}
        write_json(path, entries)
    front = set(pareto_indices(entries, accuracy="retrained_acc", cost=cost))
    entries = [{**e, "retrained_front": i in front} for i, e in enumerate(entries)]
    write_json(path, entries)
    plot_pareto(entries, run / "pareto.png", accuracy="retrained_acc", cost=cost,
                accuracy_label="retrained held-out accuracy (%)",
                title=f"retrained set ({train.epochs} epochs, C={train.channels})")
    return entries


def _fraction(result: dict[str, Any], name: str) -> float | None:
    """An accuracy of a member's ``result.json`` as the fraction the set files hold."""
    percent = accuracy_percent(result, name)
    return None if percent is None else percent / 100.0
