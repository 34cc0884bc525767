"""--tensorboard's tracker: nothing without the option; a clear error without tensorboard."""

from __future__ import annotations

import sys

import pytest

from nasspace.tracking import ScalarTracker, TrackingUnavailable, open_tracker, require_tensorboard


def test_without_the_option_nothing_is_written(tmp_path):
    with open_tracker(None) as tracker:
        tracker.scalar("a", 1.0, 1)
        assert not tracker.active
    require_tensorboard(None)  # nothing to check
    assert list(tmp_path.iterdir()) == []


def test_missing_tensorboard_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import now raises ImportError
    with pytest.raises(TrackingUnavailable, match=r"--tensorboard needs the tensorboard package: pip install tensorboard"):
        require_tensorboard(tmp_path / "tb")
    with pytest.raises(TrackingUnavailable):
        ScalarTracker(tmp_path / "tb")
