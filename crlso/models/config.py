"""Model configs and builders of CR-LSO: the sizes of every model (`ModelConfig`, `default_model_config`), the
pre-training and semi-supervised settings, and the functions that build the VAE, ICNN and predictor from them.

The procedures that train these models are in `crlso.models.training`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch_geometric.data import Batch

from nasspace.options import AT_LEAST_ONE, POSITIVE, check_numbers

from crlso.models.encoder import GNNBody, GraphEncoder
from crlso.models.graphs import featurizer_for
from crlso.models.icnn import ICNN
from crlso.models.predictor import GNNPredictor
from crlso.models.vae import GraphVAE
from crlso.errors import ConfigError

__all__ = [
    "ModelConfig",
    "default_model_config",
    "PretrainConfig",
    "SemiSupervisedConfig",
    "default_device",
    "default_cache_dir",
    "build_vae",
    "build_icnn",
    "build_predictor",
    "subset_batch",
]


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of every CR-LSO model (one place for the defaults)."""

    space: str = "nb201"
    gnn_hidden: int = 64
    gnn_layers: int = 3
    latent_dim: int = 16
    decoder_hidden: int = 128
    decoder_blocks: int = 2
    noise_scale: float = 0.01
    icnn_hidden: int = 64
    icnn_layers: int = 2
    icnn_activation: str = "softplus"
    predictor_hidden: int = 64
    predictor_layers: int = 3
    readout: str = "sum"  # of the VAE encoder: "sum" or "positions" (see crlso.models.encoder)

    def __post_init__(self) -> None:
        check_numbers(self, dict.fromkeys(("gnn_hidden", "gnn_layers", "latent_dim", "decoder_hidden", "decoder_blocks",
                                           "icnn_hidden", "icnn_layers", "predictor_hidden", "predictor_layers"), AT_LEAST_ONE))


def default_model_config(space: str) -> ModelConfig:
    """The model sizes a space starts from: its adapter's (`crlso.models.spaces`; DARTS needs a positional
    readout, a wider decoder and a larger code)."""
    from crlso.models.spaces import get_adapter

    return ModelConfig(space=space, **dict(get_adapter(space).model_overrides))


@dataclass(frozen=True)
class PretrainConfig:
    """Unlabelled VAE pre-training on all cells."""

    epochs: int = 30
    batch_size: int = 256
    lr: float = 2e-3
    beta: float = 0.005
    grad_clip: float = 5.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_numbers(self, {"epochs": AT_LEAST_ONE, "batch_size": AT_LEAST_ONE, "lr": POSITIVE})


@dataclass(frozen=True)
class SemiSupervisedConfig:
    """Predictor fit, then joint VAE + ICNN fit on labels and pseudo-labels."""

    predictor_epochs: int = 200
    predictor_lr: float = 1e-3
    predictor_weight_decay: float = 1e-4
    joint_epochs: int = 10
    joint_batch_size: int = 256
    joint_lr: float = 5e-4
    beta: float = 0.005
    prediction_weight: float = 10.0
    label_weight: float = 5.0
    grad_clip: float = 5.0

    def __post_init__(self) -> None:
        check_numbers(self, {"joint_batch_size": AT_LEAST_ONE, "predictor_lr": POSITIVE, "joint_lr": POSITIVE})


DEVICE_ENV = "CRLSO_DEVICE"
"""Environment variable naming the device of crlso's models (``auto``, ``cpu``, ``cuda``, ``cuda:N``). The
CLIs' ``--device`` sets it, so the worker processes of a comparison inherit it."""


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when present, else CPU; or ``cpu`` / ``cuda`` / ``cuda:N``.

    Raises:
        ValueError: an unknown name, or CUDA asked for where torch sees none (one line).
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} requested but torch sees no CUDA device; use --device cpu or auto")
        if name != "cuda" and int(name[5:]) >= torch.cuda.device_count():
            raise ConfigError(f"device {name!r} does not exist; this machine has {torch.cuda.device_count()} CUDA device(s)")
        return torch.device(name)
    raise ConfigError(f"unknown device {name!r}; valid: auto, cpu, cuda, cuda:N")


def default_device() -> torch.device:
    """The device named by ``$CRLSO_DEVICE`` (see `resolve_device`), else CUDA when present, else CPU."""
    return resolve_device(os.environ.get(DEVICE_ENV) or "auto")


def default_cache_dir() -> Path:
    """``$CRLSO_CACHE_DIR``, else ``~/.cache/crlso``."""
    return Path(os.environ.get("CRLSO_CACHE_DIR", Path.home() / ".cache" / "crlso"))


def build_vae(config: ModelConfig, *, generic_decoder: bool = False) -> GraphVAE:
    """The VAE of ``config``'s sizes with its space's decoder (``generic_decoder``: the generic `ChoiceDecoder`
    even for a space with its own, to compare the two)."""
    from crlso.models.spaces import get_adapter

    featurizer = featurizer_for(config.space)
    body = GNNBody(node_dim=featurizer.node_dim, edge_dim=featurizer.edge_dim, hidden=config.gnn_hidden, num_layers=config.gnn_layers,
                   readout=config.readout, max_nodes=featurizer.max_nodes)
    decoder = get_adapter(config.space).build_decoder(latent_dim=config.latent_dim, hidden=config.decoder_hidden,
                                                      num_blocks=config.decoder_blocks, generic=generic_decoder)
    return GraphVAE(GraphEncoder(body, latent_dim=config.latent_dim), decoder, noise_scale=config.noise_scale)


def build_icnn(config: ModelConfig) -> ICNN:
    return ICNN(config.latent_dim, hidden=config.icnn_hidden, num_layers=config.icnn_layers, activation=config.icnn_activation)


def build_predictor(config: ModelConfig, *, extra_dim: int = 0) -> GNNPredictor:
    """The GNN predictor of ``config``'s sizes; its head also reads ``extra_dim`` per-graph features."""
    featurizer = featurizer_for(config.space)
    body = GNNBody(node_dim=featurizer.node_dim, edge_dim=featurizer.edge_dim, hidden=config.gnn_hidden, num_layers=config.predictor_layers)
    return GNNPredictor(body, hidden=config.predictor_hidden, extra_dim=extra_dim)


def subset_batch(batch: Batch, index: Tensor | list[int]) -> Batch:
    """The graphs ``index`` of ``batch`` as a new batch, in that order."""
    return Batch.from_data_list(batch.index_select(torch.as_tensor(index, dtype=torch.long)))
