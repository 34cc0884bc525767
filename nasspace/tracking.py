"""``--tensorboard DIR``: a run's scalars as TensorBoard event files, through torch's ``SummaryWriter``.

TensorBoard is a dependency of the option only (``pip install 'crlso[tensorboard]'``): this module
imports it when a tracker is opened, never at import (nasspace imports no torch; like
`nasspace.benchmarks.nb201_official`, it does so only when asked). Without the option, `open_tracker`
gives a tracker that records nothing, so callers never branch.

Tags used by the commands (``/``-grouped in TensorBoard):

- searches (``crlso search``, ``crlso hybrid``): ``search/value`` (the search metric of each query,
  step = query number), ``search/best_so_far``;
- supernet searches (``darts-backend search``): ``train/<metric>`` of each epoch and ``alphas/...``
  (the softmax of the architecture weights); see `darts_backend.runs.tracking`.

Example:
    with open_tracker(args.tensorboard) as tracker:
        tracker.scalar("search/value", 91.2, step=1)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from nasspace.errors import NasSpaceError

__all__ = ["TrackingUnavailable", "ScalarTracker", "open_tracker", "require_tensorboard"]


class TrackingUnavailable(NasSpaceError):
    """``--tensorboard`` was asked for but the tensorboard package is not installed."""


class ScalarTracker:
    """Scalars into TensorBoard event files under ``log_dir`` (a no-op when ``log_dir`` is None).

    Raises:
        TrackingUnavailable: ``log_dir`` is given and tensorboard cannot be imported.
    """

    def __init__(self, log_dir: str | Path | None):
        self.log_dir = None if log_dir is None else Path(log_dir)
        self._writer: Any = None
        if self.log_dir is not None:
            self._writer = self._check_import()(log_dir=str(self.log_dir))

    @staticmethod
    def _check_import() -> Any:
        """torch's ``SummaryWriter`` class."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise TrackingUnavailable("--tensorboard needs the tensorboard package: pip install tensorboard "
                                      "(or pip install 'crlso[tensorboard]')") from None
        return SummaryWriter

    @property
    def active(self) -> bool:
        """Whether scalars are written anywhere."""
        return self._writer is not None

    def scalar(self, tag: str, value: float | None, step: int) -> None:
        """One value (None and non-numbers are skipped: a metric that was not measured)."""
        if self._writer is None or value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return
        self._writer.add_scalar(tag, float(value), global_step=step)

    def scalars(self, prefix: str, values: Mapping[str, Any], step: int) -> None:
        """Every numeric entry of ``values`` as ``prefix/key``."""
        for key, value in values.items():
            self.scalar(f"{prefix}/{key}", value, step)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> ScalarTracker:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def require_tensorboard(log_dir: str | Path | None) -> None:
    """Check, before any work, that a tracker on ``log_dir`` can be opened (nothing to check for None).

    Raises:
        TrackingUnavailable: tensorboard is not installed.
    """
    if log_dir is not None:
        ScalarTracker(None)._check_import()


def open_tracker(log_dir: str | Path | None) -> ScalarTracker:
    """A tracker writing into ``log_dir``, or recording nothing when it is None (the option not given)."""
    return ScalarTracker(log_dir)
