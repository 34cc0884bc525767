"""Scoring genotypes with a trained latent model (`crlso train`): the ICNN head, the predictor, or their mean."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from nasspace import Genotype
from crlso.errors import ConfigError

__all__ = ["SCORERS", "score_genotypes"]

SCORERS = ("icnn", "predictor", "mean")


@torch.no_grad()
def score_genotypes(models: dict[str, torch.nn.Module], genotypes: Sequence[Genotype], *, chunk: int = 4096) -> dict[str, np.ndarray]:
    """Predicted accuracy (percent, higher is better) of each genotype by each available head.

    Args:
        models: from `crlso.models.checkpoints.load_models`: ``vae`` + ``icnn`` and/or ``predictor``.
        genotypes: ``G`` genotypes of the models' space.

    Returns:
        ``{"icnn": (G,), "predictor": (G,), "mean": (G,)}`` for the heads present (``mean``
        averages the two when both are).

    Raises:
        ValueError: the models hold no scoring head.
    """
    from crlso.models.graphs import batch_genotypes
    from crlso.models.training import encode, predict

    if "icnn" not in models and "predictor" not in models:
        raise ConfigError(f"the checkpoint has no scoring head (icnn or predictor); it has: {', '.join(models)}")
    scores: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(genotypes), chunk):
        batch = batch_genotypes(list(genotypes[start : start + chunk]))
        if "icnn" in models:
            if "vae" not in models:
                raise ConfigError("the icnn head needs the vae in the checkpoint")
            icnn = models["icnn"]
            error = icnn(encode(models["vae"], batch)) * icnn.target_std + icnn.target_mean
            scores.setdefault("icnn", []).append((100.0 * (1.0 - error)).cpu().numpy())
        if "predictor" in models:
            error = predict(models["predictor"], batch)
            scores.setdefault("predictor", []).append((100.0 * (1.0 - error)).cpu().numpy())
    out = {name: np.concatenate(parts).astype(np.float64) for name, parts in scores.items()}
    if len(out) == 2:
        out["mean"] = (out["icnn"] + out["predictor"]) / 2
    return out
