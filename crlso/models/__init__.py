"""The latent model of CR-LSO, one module per part:

- `crlso.models.encoder`: the GNN body and the VAE's graph encoder;
- `crlso.models.decoder`: the decoder contract; `crlso.models.choice_decoder`: the generic decoder of choice rows
  (`crlso.models.nb101.decoder` for NB101); `crlso.models.spaces`: what each space gives the models;
- `crlso.models.vae`: the graph VAE; `crlso.models.icnn`: the input-convex head (and its MLP ablation);
- `crlso.models.predictor`: the GNN regressor that pseudo-labels cells;
- featurizers: `crlso.models.graphs` (genotypes as graphs), `crlso.models.cells` (the training cells of a
  space), `crlso.models.cell_features` (structural features of NB201 cells), `crlso.models.nb101`;
- `crlso.models.config`: model sizes and settings, and the builders; `crlso.models.training`: the training
  procedures (pre-training, predictor, joint VAE + ICNN fits);
- `crlso.models.checkpoints`: saved models; `crlso.models.torch_files`: torch files written atomically and checked.

Names are imported from their module on first use (importing this package loads no torch).
"""

from __future__ import annotations

from crlso._lazy import lazy_exports

_EXPORTS = {
    "crlso.models.encoder": ["READOUTS", "GNNBody", "Posterior", "GraphEncoder"],
    "crlso.models.decoder": ["GenotypeDecoder", "ResidualBlock"],
    "crlso.models.choice_decoder": ["ChoiceDecoder"],
    "crlso.models.vae": ["GraphVAE", "VAEOutput"],
    "crlso.models.icnn": ["NonNegativeLinear", "ICNN", "MLPHead", "create_head", "HEADS"],
    "crlso.models.predictor": ["GNNPredictor"],
    "crlso.models.graphs": ["GraphFeaturizer", "GraphBank", "featurizer_for", "to_data", "batch_genotypes", "all_cells_batch", "slice_batch"],
    "crlso.models.cells": ["is_enumerated", "training_cells", "training_cells_batch"],
    "crlso.models.spaces": ["SpaceAdapter", "get_adapter", "list_adapters", "register_adapter", "generic_adapter", "create_decoder"],
    "crlso.models.cell_features": ["NUM_FEATURES", "PATHS", "live_edge_mask", "prune_dead_edges", "nb201_cell_features"],
    "crlso.models.config": ["ModelConfig", "default_model_config", "PretrainConfig", "SemiSupervisedConfig", "default_device", "default_cache_dir", "build_vae", "build_icnn", "build_predictor", "subset_batch"],
    "crlso.models.training": ["pretrain_vae", "cached_pretrained_vae", "vae_cache_path", "encode", "fit_predictor", "predict", "fit_icnn", "fit_vae_icnn", "refit_vae_icnn",
                              "fit_minibatch_mse"],
    "crlso.models.semi_supervised": ["train_semi_supervised"],
    "crlso.models.checkpoints": ["save_checkpoint", "load_checkpoint", "load_models", "load_ranker", "load_trained_vae", "check_trained_model"],
    "crlso.models.torch_files": ["CorruptFile", "save_torch_atomic", "load_torch", "save_torch_checked", "load_torch_checked", "checksum_path"],
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
