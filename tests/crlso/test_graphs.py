"""`slice_batch`: a contiguous range of a batch, equal to re-collating those graphs."""

from __future__ import annotations

import numpy as np
import torch

from crlso.models.graphs import batch_genotypes, slice_batch
from crlso.models.config import subset_batch
from nasspace import get_space


def test_slice_batch_equals_recollating_the_graphs() -> None:
    space = get_space("nb201")
    rng = np.random.default_rng(0)
    batch = batch_genotypes([space.sample(rng) for _ in range(40)])
    for start, stop in ((0, 40), (0, 1), (7, 23), (39, 40)):
        fast, slow = slice_batch(batch, start, stop), subset_batch(batch, list(range(start, stop)))
        assert fast.num_graphs == slow.num_graphs == stop - start
        for key in ("x", "edge_index", "edge_attr", "batch", "ptr"):
            assert torch.equal(getattr(fast, key), getattr(slow, key)), key
