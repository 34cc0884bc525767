"""Named settings of a search run: ``paper`` (the published setting of each method) and ``cpu`` (a
CPU-sized run of the same method: smaller supernet, fewer images and epochs, same optimisation).

`preset_values` returns field values of the run's config dataclass (`SearchRunConfig` for
``single-darts`` / ``darts`` / ``spos``, `DartsSearchConfig` for ``dnad`` / ``fx-darts``); flags given on the
command line override them, and the run's ``config.json`` then holds what actually ran.

Sources:

- NB201 ``darts`` / ``single-darts``: XAutoDL's NB201 DARTS: SGD 0.025 Nesterov (momentum 0.9),
  weight decay 5e-4, cosine to 1e-3, 50 epochs, batch 64, gradient clip 5; alphas Adam 3e-4, betas
  (0.5, 0.999), weight decay 1e-3; C=16, N=5; CIFAR-10 train split half/half for the bi-level alpha step.
- DARTS-space ``darts`` / ``single-darts``: the DARTS paper's search: as above but plain momentum,
  weight decay 3e-4, C=16, 8 cells.
- ``spos`` on NB201: XAutoDL's NB201 setting of its weight-sharing random-sampling baseline (RSPS,
  ``configs/nas-benchmark/algos/RANDOM.config``): SGD 0.025 Nesterov (momentum 0.9), weight decay
  5e-4, cosine to 1e-3, 250 epochs, batch 64; C=16, N=5; the train split half/half (weights / selection),
  as its search loaders give it. Selection: the best of 100 uniformly sampled cells (NATS-Bench's
  ``search-cell.py --algo random``, ``select_num`` 100), each after SPOS's BN re-estimation on 20,000
  held-out images (the SPOS paper's count), scored on 5,000 more. Gradient clip 5 as our other NB201 presets.
- ``spos`` in the DARTS space: no published SPOS/RSPS run in this exact supernet was checked; it keeps
  the DARTS paper's search setting above (C=16, 8 cells, 50 epochs, batch 64) with the same selection.
- ``dnad``: NADD's settings: weights Adam 5e-4, betas (0.5, 0.999), weight decay 3e-4; alphas SGD 0.2;
  batch 128; 120 epochs; gamma from 1e-4 up to 0.1, x1.01 / x0.99 per step; mu from 0.1, x1.5 per
  Pareto point; stop once S < 250; no warm-up; a trained C=36 teacher (so ``paper`` needs
  ``--teacher-checkpoint``). Our own choices where NADD names none: gamma never falls below its start
  (1e-4), the deletion check every 10 steps, no milestone snapshots (DNAD's Pareto rule alone).
- ``pc-darts`` (both spaces): the PC-DARTS paper's CIFAR-10 search as its public ``train_search.py``
  runs it: batch 256, SGD 0.1 momentum 0.9 (not Nesterov), weight decay 3e-4, cosine to 1e-3, 50
  epochs, gradient clip 5; alphas and betas Adam 6e-4, (0.5, 0.999), weight decay 1e-3; no architecture
  step in the first 15 epochs; K = 4 and edge normalization (the method's supernet defaults); half/half
  split. The supernet size is each space's usual one (NB201 C=16, N=5; DARTS C=16, 8 cells): PC-DARTS
  published no NB201 setting, so the CIFAR-10 optimisation is used on NB201 as well.
- ``ms-darts``: a single-level method like Single-DARTS, so each space's Single-DARTS setting above,
  with MS-DARTS's defaults (`darts_backend.searchers.ms_darts`: K = 3, h = 1 grown linearly from 0.1 h);
  on the DARTS space 40 epochs, the authors' public search script's length.
- ``fx-darts``: no public code; the paper preset is the documented choices of `FXDartsConfig`
  (see `darts_backend.searchers.fx_darts`) on the DARTS search size (C=16, 8 cells, 50 epochs, batch 64).

The ``cpu`` presets keep each method's optimisation and shrink the run: NB201 C=8, N=1, 10 epochs,
10,000 training images (the B5 setting); DARTS space C=8, 5 cells, 10 epochs, 10,000 images, batch 64.
``spos``'s CPU selection re-estimates BN on 256 held-out images and scores on 1,000 (100 candidates).
DNAD's stop value is scaled with the cell count (250 x 5/8), and a teacher is optional there.
PC-DARTS's ``cpu`` preset keeps batch 64, where its own learning rates scale back as PC-DARTS scaled
DARTS's up for batch 256 (weights 0.1 -> 0.025, architecture 6e-4 -> 3e-4), and its 15-of-50-epoch
warm-up becomes 3 of 10 epochs; everything else is its ``paper`` setting.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from darts_backend.searchers.base import SearcherConfig
from darts_backend.searchers.ms_darts import MSDartsConfig
from darts_backend.searchers.pc_darts import PCDartsConfig
from darts_backend.searchers.spos import SposConfig
from darts_backend.errors import ConfigError

__all__ = ["PRESETS", "preset_values"]

PRESETS = ("paper", "cpu")

_XAUTODL_NB201 = SearcherConfig(w_lr=0.025, w_lr_min=1e-3, w_momentum=0.9, w_nesterov=True, w_weight_decay=5e-4,
                                grad_clip=5.0, a_lr=3e-4, a_betas=(0.5, 0.999), a_weight_decay=1e-3)
_DARTS_PAPER = SearcherConfig(w_lr=0.025, w_lr_min=1e-3, w_momentum=0.9, w_nesterov=False, w_weight_decay=3e-4,
                              grad_clip=5.0, a_lr=3e-4, a_betas=(0.5, 0.999), a_weight_decay=1e-3)
_PC_DARTS_PAPER = PCDartsConfig(w_lr=0.1, w_lr_min=1e-3, w_momentum=0.9, w_nesterov=False, w_weight_decay=3e-4,
                                grad_clip=5.0, a_lr=6e-4, a_betas=(0.5, 0.999), a_weight_decay=1e-3, arch_warmup_epochs=15)
_PC_DARTS_CPU = PCDartsConfig(w_lr=0.025, w_lr_min=1e-3, w_momentum=0.9, w_nesterov=False, w_weight_decay=3e-4,
                              grad_clip=5.0, a_lr=3e-4, a_betas=(0.5, 0.999), a_weight_decay=1e-3, arch_warmup_epochs=3)
_NADD_OPTIONS = ("w_lr=5e-4", "w_lr_min=5e-4", "w_betas=0.5,0.999", "w_weight_decay=3e-4", "a_optimizer=sgd",
                 "a_lr=0.2", "a_momentum=0", "a_weight_decay=0", "gamma_init=1e-4", "gamma_min=1e-4",
                 "gamma_max=0.1", "gamma_up=1.01", "gamma_down=0.99", "mu_init=0.1", "mu_factor=1.5")


def preset_values(name: str, method: str, space: str) -> dict[str, Any]:
    """Config field values of preset `name` for `method` on `space` (without ``preset`` itself).

    Raises:
        ValueError: unknown preset, or a method/space pair no preset covers.
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    paper = name == "paper"
    if method == "pc-darts" and space in ("nb201", "darts"):
        cells = (5 if space == "nb201" else 8) if paper else (1 if space == "nb201" else 5)
        size = {"channels": 16, "cells": cells, "epochs": 50, "batch_size": 256, "limit_train": None} if paper else \
            {"channels": 8, "cells": cells, "epochs": 10, "batch_size": 64, "limit_train": 10000}
        return {**size, "valid_fraction": 0.5, "partial_channels": 4, "edge_normalization": True,
                "optim": _PC_DARTS_PAPER if paper else _PC_DARTS_CPU}
    if method == "ms-darts" and space in ("nb201", "darts"):
        values = preset_values(name, "single-darts", space)
        if paper and space == "darts":
            values["epochs"] = 40
        return {**values, "optim": MSDartsConfig.coerce(values["optim"])}
    if method in ("darts", "single-darts") and space == "nb201":
        size = {"channels": 16, "cells": 5, "epochs": 50, "limit_train": None} if paper else \
            {"channels": 8, "cells": 1, "epochs": 10, "limit_train": 10000}
        return {**size, "batch_size": 64, "valid_fraction": 0.5, "optim": _XAUTODL_NB201}
    if method in ("darts", "single-darts") and space == "darts":
        size = {"channels": 16, "cells": 8, "epochs": 50, "limit_train": None} if paper else \
            {"channels": 8, "cells": 5, "epochs": 10, "limit_train": 10000}
        return {**size, "batch_size": 64, "valid_fraction": 0.5, "optim": _DARTS_PAPER}
    if method == "spos" and space in ("nb201", "darts"):
        if space == "nb201":
            size = {"channels": 16, "cells": 5, "epochs": 250, "limit_train": None} if paper else \
                {"channels": 8, "cells": 1, "epochs": 10, "limit_train": 10000}
        else:
            size = {"channels": 16, "cells": 8, "epochs": 50, "limit_train": None} if paper else \
                {"channels": 8, "cells": 5, "epochs": 10, "limit_train": 10000}
        select = {"select_candidates": 100, "select_calibration": 20000, "select_images": 5000} if paper else \
            {"select_candidates": 100, "select_calibration": 256, "select_images": 1000}
        optim = _XAUTODL_NB201 if space == "nb201" else _DARTS_PAPER
        return {**size, "batch_size": 64, "valid_fraction": 0.5, "optim": replace(SposConfig.coerce(optim), **select)}
    if method == "dnad" and space == "darts":
        size = {"channels": 16, "cells": 8, "epochs": 120, "batch_size": 128, "limit_train": None} if paper else \
            {"channels": 8, "cells": 5, "epochs": 10, "batch_size": 64, "limit_train": 10000}
        s_floor = 250.0 * size["cells"] / 8
        return {**size, "nodes": 4, "warmup_epochs": 0, "prune_every": 10, "milestone": 0.0,
                "teacher_channels": 36, "teacher_cells": 20, "options": _NADD_OPTIONS + (f"s_floor={s_floor:g}",)}
    if method == "fx-darts" and space == "darts":
        size = {"channels": 16, "cells": 8, "epochs": 50, "limit_train": None} if paper else \
            {"channels": 8, "cells": 5, "epochs": 10, "limit_train": 10000}
        return {**size, "batch_size": 64, "nodes": 4}
    raise ConfigError(f"no preset for method {method!r} on space {space!r}")
