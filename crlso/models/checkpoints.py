"""Checkpoints: ``state_dict``s + the config that builds the models + genotypes, never pickled modules.

Everything in a checkpoint is a tensor, a number, a string, or a list/dict of those, so it loads
with ``torch.load(..., weights_only=True)``. Its sha256 is written beside it (``checkpoint.pt.sha256``,
`crlso.models.torch_files`) and checked on load; a damaged or foreign file is one ``ValueError`` naming it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from crlso.models.torch_files import load_torch_checked, save_torch_checked
from crlso.models.config import ModelConfig, build_icnn, build_predictor, build_vae
from crlso.errors import CheckpointError, MissingFileError

__all__ = ["save_checkpoint", "load_checkpoint", "load_models", "load_ranker", "load_trained_vae", "check_trained_model"]

FORMAT_VERSION = 1


def save_checkpoint(
    path: str | Path,
    *,
    models: dict[str, torch.nn.Module],
    model_config: ModelConfig,
    extra_config: dict[str, Any] | None = None,
    genotypes: list[str] | None = None,
    ranker: dict[str, Any] | None = None,
) -> Path:
    """Write ``{name: state_dict}`` of ``models`` with their config (atomically), and the ranking
    model's state (`crlso.ranking.model.RankModel.state`) when given."""
    payload = {
        "format_version": FORMAT_VERSION,
        "model_config": dataclasses.asdict(model_config),
        "config": extra_config or {},
        "state_dicts": {name: module.state_dict() for name, module in models.items()},
        "genotypes": list(genotypes or []),
    }
    if ranker is not None:
        payload["ranker"] = ranker
    return save_torch_checked(path, payload)


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The checkpoint dict, read with ``weights_only=True``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not a crlso checkpoint of a known format.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"no checkpoint at {path}")
    payload = load_torch_checked(path, map_location=map_location)  # CorruptFile (a ValueError) names the path
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} is not a crlso checkpoint (format {FORMAT_VERSION})")
    for key, kind in (("model_config", dict), ("config", dict), ("state_dicts", dict)):
        if not isinstance(payload.get(key), kind):
            raise CheckpointError(f"{path} is not a complete crlso checkpoint: {key!r} is missing or not a {kind.__name__}")
    return payload


def _model_config(payload: dict[str, Any], path: Path) -> ModelConfig:
    try:
        return ModelConfig(**payload["model_config"])
    except TypeError as exc:
        raise CheckpointError(f"{path}: its model_config does not fit this version of crlso ({exc})") from None


def _load_state(module: torch.nn.Module, state: Any, name: str, path: Path) -> None:
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: the {name} weights do not fit the model its config builds ({first[:200]})") from None


def load_models(path: str | Path, *, map_location: str | torch.device = "cpu") -> dict[str, torch.nn.Module]:
    """Rebuild the models named in a checkpoint (``vae``, ``icnn``, ``predictor``) and load them."""
    payload = load_checkpoint(path, map_location=map_location)
    config = _model_config(payload, Path(path))
    builders = {"vae": build_vae, "icnn": build_icnn, "predictor": build_predictor}
    models = {}
    for name, state in payload["state_dicts"].items():
        if name not in builders:
            raise CheckpointError(f"unknown model {name!r} in {path}; valid: {', '.join(builders)}")
        module = builders[name](config)
        own = module.state_dict()
        for key, value in state.items():  # top-level buffers added after building (target scaling)
            if "." not in key and key not in own:
                module.register_buffer(key, torch.zeros_like(value))
        _load_state(module, state, name, Path(path))
        models[name] = module.to(map_location).eval()
    return models


def _trained_checkpoint(model_dir: str | Path) -> tuple[Path, dict[str, Any]]:
    path = Path(model_dir) / "checkpoint.pt"
    if not path.is_file():
        raise MissingFileError(f"no checkpoint.pt in {model_dir}: pass the --out folder of a `crlso train` run")
    return path, load_checkpoint(path)


def check_trained_model(model_dir: str | Path, *, space: str, dataset: str, metric: str) -> dict[str, Any]:
    """The training config of a ``crlso train`` folder, checked against a search's space, dataset and metric.

    Raises:
        FileNotFoundError: no checkpoint in ``model_dir``.
        ValueError: the model was trained on another space, dataset or metric (the message names both).
    """
    path, payload = _trained_checkpoint(model_dir)
    config = payload.get("config", {})
    for name, wanted in (("space", space), ("dataset", dataset), ("metric", metric)):
        if config.get(name) != wanted:
            raise CheckpointError(f"the model in {model_dir} was trained on {name} {config.get(name)!r}; this search is on {wanted!r}")
    if "vae" not in payload["state_dicts"]:
        raise CheckpointError(f"{path} holds no VAE")
    return config


def load_trained_vae(model_dir: str | Path, *, space: str) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """The model sizes and the VAE ``state_dict`` of a ``crlso train`` folder.

    Raises:
        FileNotFoundError: no checkpoint in ``model_dir``.
        ValueError: the model is of another space, or holds no VAE.
    """
    path, payload = _trained_checkpoint(model_dir)
    model = _model_config(payload, path)
    if model.space != space:
        raise CheckpointError(f"the model in {model_dir} is for space {model.space!r}; this search is on {space!r}")
    if "vae" not in payload["state_dicts"]:
        raise CheckpointError(f"{path} holds no VAE")
    return model, payload["state_dicts"]["vae"]


def load_ranker(path: str | Path, *, space: str | None = None, metric: str | None = None):
    """The ranking model of a ``crlso train`` checkpoint and the checkpoint's config.

    Args:
        space, metric: when given, the checkpoint must be of this space and label metric.

    Returns:
        ``(RankModel, config dict)``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not a checkpoint, no ranking model in it (written before it existed), or
            another space or metric (one line naming both).
    """
    from crlso.ranking.model import RankModel

    payload = load_checkpoint(path)
    config = payload["config"]
    if "ranker" not in payload:
        raise CheckpointError(f"{path} holds no ranking model (written by an older crlso train); train again")
    found_space = payload["ranker"].get("space") if isinstance(payload["ranker"], dict) else None
    if space is not None and found_space != space:
        raise CheckpointError(f"{path} holds a ranking model of the {found_space!r} space, not {space!r}")
    if metric is not None and config.get("metric") != metric:
        raise CheckpointError(f"{path} holds a ranking model of metric {config.get('metric')!r}, not {metric!r}")
    try:
        return RankModel.from_state(payload["ranker"]), config
    except (KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path}: its ranking model is incomplete ({type(exc).__name__}: {exc})") from None
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
