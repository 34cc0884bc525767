"""Fixtures of the crlso tests: a tiny CR-LSO config whose unlabelled pre-training takes seconds."""

from __future__ import annotations

import pytest

from crlso.models.config import ModelConfig, PretrainConfig


@pytest.fixture(scope="session")
def tiny_crlso_options(tmp_path_factory) -> dict:
    """Options for the ``crlso`` searcher: small models, 1 pre-training epoch, a private cache."""
    return {
        "n_init": 8,
        "batch_size": 4,
        "predictor_epochs": 20,
        "predictor_refit_epochs": 5,
        "icnn_steps": 20,
        "icnn_refit_steps": 5,
        "pseudo_size": 256,
        "cache_dir": str(tmp_path_factory.mktemp("crlso-cache")),
        "model": ModelConfig(gnn_hidden=16, gnn_layers=2, latent_dim=8, decoder_hidden=32, decoder_blocks=1,
                             icnn_hidden=16, predictor_hidden=16, predictor_layers=2),
        "pretrain": PretrainConfig(epochs=1, batch_size=1024),
    }
