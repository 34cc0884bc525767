"""The NB101 parts of the latent model: decoder (`crlso.models.nb101.decoder`), training cells sampled from
the space (`crlso.models.nb101.cells`) and structural features (`crlso.models.nb101.features`); the ranking
benchmark on NASLib's labelled cells is `crlso.ranking.benchmark` with ``space="nb101"``.

Importing `crlso.models.decoder` registers the decoder; the other modules are imported where used (the names
below on first use).
"""

from __future__ import annotations

from crlso._lazy import lazy_exports

_EXPORTS = {
    "crlso.models.nb101.decoder": ["NB101Decoder", "SLOT_PAIRS", "slot_layout", "repair_cell"],
    "crlso.models.nb101.cells": ["VERTEX_WEIGHTS", "SAMPLE_SIZE", "SAMPLE_SEED", "sample_cell", "sample_cells", "nb101_training_cells", "training_source_tag"],
    "crlso.models.nb101.features": ["ONE_HOT_DIM", "NUM_FEATURES", "one_hot_encoding", "cell_features", "input_output_paths"],
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
