"""A search run folder's trained supernet as an evaluator: the network, the images it never trained on.

Evaluators (`darts_backend.evaluate`) take a network and image batches; this module reads them from a
``darts-backend search`` run folder:

* `load_run_network`: the supernet as its last checkpoint left it, and the run's config;
* `held_out_images`: a run that trained on ``limit_train`` images of the train split drew them as the first
  ``limit_train`` of a seeded random order (`darts_backend.data.load_dataset`); the evaluators take the next
  ones of that same order, so they were never seen by the supernet's weights or alphas. A run that used the
  whole train split has no such images: name another ``split`` explicitly;
* `load_evaluator` (``mixture``), `load_single_path_evaluator` (``single-path``) and `load_screener` (either,
  by name, `SCREENERS`):

  - ``mixture``: `SupernetEvaluator`: the path through the supernet's weights, every BN normalising by the
    evaluation batch (made for mixture-trained supernets: single-darts, darts);
  - ``single-path``: `SinglePathEvaluator`: BN statistics re-estimated for each path on held-out train images,
    then scored in eval mode (the SPOS reading, made for ``spos`` supernets).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from darts_backend.data import BatchLoader, ImageSet, load_dataset
from darts_backend.evaluate.single_path import SinglePathEvaluator
from darts_backend.evaluate.supernet import SupernetEvaluator
from darts_backend.runs.trainer import select_device
from darts_backend.errors import ConfigError

__all__ = ["SCREENERS", "load_run_network", "held_out_images", "load_evaluator", "load_single_path_evaluator",
           "load_screener"]

SCREENERS = ("mixture", "single-path")


def load_screener(kind: str, run_dir: str | Path, *, images: int = 512, calibration_images: int = 256,
                  split: str | None = None, device: str = "auto") -> SupernetEvaluator | SinglePathEvaluator:
    """The evaluator `kind` of a run folder.

    Args:
        kind: one of `SCREENERS`.
        run_dir: a ``darts-backend search`` output folder.
        images: held-out images to score on.
        calibration_images: ``single-path`` only: held-out images to re-estimate BN statistics on.
        split: ``mixture`` only: score on this split instead of the run's unused train images.
        device: ``auto``, ``cpu`` or ``cuda``.

    Raises:
        ValueError: unknown kind, or a `split` for ``single-path`` (it reads held-out train images only).
    """
    if kind not in SCREENERS:
        raise ConfigError(f"unknown screening evaluator {kind!r}; valid: {', '.join(SCREENERS)}")
    if kind == "mixture":
        return load_evaluator(run_dir, images=images, split=split, device=device)
    if split is not None:
        raise ConfigError(f"the single-path evaluator reads held-out train images only; got split={split!r}")
    return load_single_path_evaluator(run_dir, images=images, calibration_images=calibration_images, device=device)


def load_run_network(run_dir: Path, device: torch.device) -> tuple[nn.Module, dict]:
    """The trained supernet of a search run folder (as its last checkpoint left it) and the run's config."""
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise ConfigError(f"{run_dir} holds no config.json; give the folder of a darts-backend search run")
    config = json.loads(config_path.read_text())
    from darts_backend.runs.search import METHODS

    if config.get("method") in METHODS:  # nb201, or the shared-mode darts space
        from darts_backend.runs.search import load_search_network

        return load_search_network(run_dir, device)
    if config.get("space") == "darts":  # set-emitting dnad / fx-darts runs
        from darts_backend.runs.set_search import load_search_network as load_darts_network

        return load_darts_network(run_dir, device)
    raise ConfigError(f"{run_dir}: no supernet evaluator for a {config.get('method')!r} run on {config.get('space')!r}")


def load_evaluator(run_dir: str | Path, *, images: int = 512, batch_size: int = 256, data: str | None = None,
                   split: str | None = None, device: str = "auto") -> SupernetEvaluator:
    """The evaluator of a finished search run folder (its ``config.json`` and ``checkpoint.pt``).

    Args:
        run_dir: a ``darts-backend search`` output folder.
        images: held-out images to score on.
        batch_size: images per forward pass.
        data: the image source (default: the one the run trained on).
        split: take the images from this split instead of the train images the run did not use.
        device: ``auto`` (CUDA if present), ``cpu`` or ``cuda``.

    Raises:
        ValueError: not a run folder, unknown space, or no held-out images (the run used the whole train
            split and no other ``split`` was named).
    """
    if images < 1 or batch_size < 1:
        raise ConfigError(f"images and batch_size must be >= 1, got {images}, {batch_size}")
    run_dir = Path(run_dir)
    dev = select_device(device)
    network, config = load_run_network(run_dir, dev)
    held_out = held_out_images(run_dir, config, images, data=data, split=split)
    loader = BatchLoader(held_out, min(batch_size, len(held_out)), device=dev, augment=False, shuffle=False, drop_last=False)
    return SupernetEvaluator(network, list(loader))


def held_out_images(run_dir: Path, config: dict, count: int, *, data: str | None = None,
                    split: str | None = None) -> ImageSet:
    """Up to `count` images a search run's weights never trained on (or of another `split`, when named).

    Train images after the run's ``limit_train`` subset come first (seen by nothing); a run on the whole
    train split that held out a share for selection (``spos``: ``valid_fraction``) gives that share.

    Raises:
        ValueError: no such images (the run trained its weights on the whole train split).
    """
    source = data or config["data"]
    generator = torch.Generator().manual_seed(int(config["seed"]))
    if split is not None:
        return load_dataset(source, split, limit=count, generator=generator)
    used = config.get("limit_train")
    if used is None:
        if config.get("method") == "spos" and source == config["data"]:
            images = load_dataset(source, "train", generator=generator)  # as run_search draws its split
            return images.split(1 - float(config["valid_fraction"]), generator=generator)[1].limit(
                count, generator=torch.Generator().manual_seed(int(config["seed"])))
        raise ConfigError(f"{run_dir} trained on the whole train split of {source}, so none of it is held out; "
                          "name another split (e.g. split='test') to screen on")
    try:
        return load_dataset(source, "train", limit=count, offset=int(used), generator=generator)
    except ValueError as exc:
        if "offset" not in str(exc):
            raise
        raise ConfigError(f"{run_dir} trained on all {used} train images of {source}, so none is held out; "
                          "name another split (e.g. split='test') to screen on") from None


def load_single_path_evaluator(run_dir: str | Path, *, images: int = 512, calibration_images: int = 256,
                               batch_size: int = 256, data: str | None = None,
                               device: str = "auto") -> SinglePathEvaluator:
    """The single-path evaluator of a finished search run folder (any run `load_evaluator` reads).

    Args:
        run_dir: a ``darts-backend search`` output folder.
        images: held-out images to score on.
        calibration_images: other held-out images to re-estimate BN statistics on.
        batch_size: images per forward pass (calibration batches too).
        data: the image source (default: the one the run trained on).
        device: ``auto`` (CUDA if present), ``cpu`` or ``cuda``.

    Raises:
        ValueError: not a run folder, bad counts, or fewer than ``calibration_images + 1`` held-out images.
    """
    if images < 1 or calibration_images < 1 or batch_size < 1:
        raise ConfigError(f"images, calibration_images and batch_size must be >= 1, "
                          f"got {images}, {calibration_images}, {batch_size}")
    run_dir = Path(run_dir)
    dev = select_device(device)
    network, config = load_run_network(run_dir, dev)
    held_out = held_out_images(run_dir, config, calibration_images + images, data=data)
    if len(held_out) <= calibration_images:
        raise ConfigError(f"{run_dir} leaves {len(held_out)} held-out train images, not more than "
                          f"calibration_images={calibration_images}; lower it")
    order = torch.arange(len(held_out))
    calibration_set, scoring_set = held_out.subset(order[:calibration_images]), held_out.subset(order[calibration_images:])
    loader = lambda s: list(BatchLoader(s, min(batch_size, len(s)), device=dev, augment=False,  # noqa: E731
                                        shuffle=False, drop_last=False))
    return SinglePathEvaluator(network, loader(scoring_set), loader(calibration_set))
