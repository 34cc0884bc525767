"""Genotype-only NB201 cell features: pruning keeps the function, features see only the function."""

from __future__ import annotations

import numpy as np
import pytest

from crlso.models.cell_features import NUM_FEATURES, live_edge_mask, nb201_cell_features, prune_dead_edges
from nasspace import get_space

SPACE = get_space("nb201")


@pytest.fixture(scope="module")
def all_ops() -> np.ndarray:
    return np.asarray([g.op_indices for g in SPACE.enumerate()])


def _ops(text: str) -> np.ndarray:
    return np.asarray([SPACE.parse(text).op_indices])


def test_pruning_by_hand() -> None:
    # node 1 feeds only edge 1->2, and node 2 never reaches the output: both are dead
    cell = _ops("|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|none~2|")
    assert live_edge_mask(cell).tolist() == [[False, False, False, True, False, False]]
    pruned = SPACE.from_op_indices([int(o) for o in prune_dead_edges(cell)[0]])
    assert str(pruned) == "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    features = nb201_cell_features(cell)[0]
    assert features.shape == (NUM_FEATURES,)
    assert features[-10:].tolist() == [0, 1, 0, 0, 0, 1, 0, 0, 0, 1]  # one live path, a lone skip, no convs


def test_disconnected_cell_has_only_the_zero_flag() -> None:
    features = nb201_cell_features(_ops("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|"))[0]
    assert features[-10] == 1 and features[-9:].sum() == 0
    assert features[30:130].sum() == 0  # no live path in the path encoding
    assert features[:30].reshape(6, 5)[:, 0].sum() == 6  # every edge pruned to none


def test_pruned_cells_compute_the_same_function(all_ops: np.ndarray) -> None:
    pruned = prune_dead_edges(all_ops)
    changed = np.flatnonzero((pruned != all_ops).any(axis=1))
    assert 0 < len(changed) < len(all_ops)
    for i in changed[:: max(1, len(changed) // 500)]:
        before = SPACE.from_op_indices([int(o) for o in all_ops[i]])
        after = SPACE.from_op_indices([int(o) for o in pruned[i]])
        assert SPACE.unique_string(before) == SPACE.unique_string(after)
    np.testing.assert_array_equal(prune_dead_edges(pruned), pruned)  # idempotent


def test_features_depend_only_on_the_pruned_cell(all_ops: np.ndarray) -> None:
    features = nb201_cell_features(all_ops)
    assert features.shape == (len(all_ops), NUM_FEATURES) and np.isfinite(features).all()
    np.testing.assert_array_equal(nb201_cell_features(prune_dead_edges(all_ops)), features)
    # each live path sets exactly one bit of its encoding; the live-path count agrees
    assert (features[:, 30:130].sum(axis=1) == features[:, -9]).all()
    assert len(np.unique(features, axis=0)) > 4000  # they still tell most functions apart


@pytest.mark.parametrize("bad", [np.zeros((2, 5), dtype=int), np.full((1, 6), 5), np.full((1, 6), -1)])
def test_bad_op_indices_are_rejected(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="op"):
        nb201_cell_features(bad)
