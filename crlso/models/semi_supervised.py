"""The CR-LSO semi-supervised procedure of ``crlso train --latent-fit``: a predictor on the labels, pseudo-labels
for every other cell, then the VAE and the ICNN fitted jointly (`crlso.models.training.fit_vae_icnn`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from nasspace import Genotype
from nasspace.fetch import DataStore

from crlso.models.cells import training_cells_batch
from crlso.models.config import ModelConfig, SemiSupervisedConfig, build_icnn, build_predictor, subset_batch
from crlso.models.graphs import batch_genotypes, featurizer_for
from crlso.models.icnn import ICNN
from crlso.models.predictor import GNNPredictor
from crlso.models.training import fit_predictor, fit_vae_icnn, predict
from crlso.models.vae import GraphVAE

__all__ = ["train_semi_supervised"]


def train_semi_supervised(
    vae: GraphVAE,
    labelled_index: Tensor,
    labelled_errors: Tensor,
    model_config: ModelConfig,
    config: SemiSupervisedConfig,
    *,
    seed: int,
    progress: bool = True,
    cells: Sequence[Genotype] | None = None,
    store: DataStore | None = None,
) -> tuple[GNNPredictor, ICNN]:
    """The CR-LSO semi-supervised procedure on the training cells of the space.

    1. Fit a GNN predictor on the labelled cells ``labelled_index (L,)`` (positions among the cells)
       with errors ``(L,)``.
    2. Pseudo-label every other cell with it.
    3. Fit VAE + ICNN jointly on all cells (``vae`` is updated in place, e.g. from the cached
       unlabelled pre-training).

    Args:
        cells: the cells to fit on (default: the space's `training_cells` from ``store``).

    Returns:
        The fitted predictor and ICNN.
    """
    device = next(vae.parameters()).device
    if cells is None:
        cells, batch = training_cells_batch(model_config.space, store)
    else:
        batch = batch_genotypes(cells, featurizer_for(model_config.space))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        predictor = build_predictor(model_config).to(device)
        icnn = build_icnn(model_config).to(device)
    fit_predictor(predictor, subset_batch(batch, labelled_index), labelled_errors,
                  epochs=config.predictor_epochs, lr=config.predictor_lr, weight_decay=config.predictor_weight_decay)
    targets = predict(predictor, batch).cpu()
    targets[labelled_index] = labelled_errors
    labelled = torch.zeros(len(cells), dtype=torch.bool)
    labelled[labelled_index] = True
    mean, std = targets.mean(), targets.std().clamp_min(1e-6)
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fit_vae_icnn(vae, icnn, batch, list(cells), (targets - mean) / std, labelled, config,
                     generator=generator, progress=progress)
    icnn.register_buffer("target_mean", mean.clone())
    icnn.register_buffer("target_std", std.clone())
    return predictor, icnn
