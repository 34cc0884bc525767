"""`load_restricted_pickle`: read a pickled dict of plain data without letting the file run code.

A pickle can name any importable callable and call it while it loads; ``pickle.load`` on a downloaded file
is therefore running that file. This unpickler resolves a global only through an explicit table of
admitted ``(module, name)`` pairs, each mapped to an object chosen here (nothing is imported on the file's
behalf), and refuses every other global, persistent id and extension code with a one-line `DataError`.

The default table admits exactly what the NAS-Bench-Graph ``.bench`` files use (checked with
``pickletools``: their only ``GLOBAL`` opcodes are these two): ``numpy.core.multiarray.scalar`` and
``numpy.dtype``, which together rebuild the ``numpy.float64`` scalars of their ``para`` field. Both are
narrowed: the dtype must be a plain numeric or boolean one (no object, structured or void dtypes) and the
scalar's payload must be bytes of that dtype's size, so neither can smuggle in an arbitrary object.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Callable, Mapping
from typing import Any

from nasspace.errors import DataError

__all__ = ["load_restricted_pickle", "NUMPY_SCALAR_GLOBALS"]

_NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats


def _numeric_dtype(spec: Any, align: Any = False, copy: Any = False) -> Any:
    """``numpy.dtype`` of a numeric type code only (``numpy.dtype.__reduce__`` writes ``('f8', False, True)``)."""
    import numpy as np

    if not isinstance(spec, str) or not isinstance(align, bool) or not isinstance(copy, bool):
        raise pickle.UnpicklingError(f"numpy.dtype called with ({spec!r}, {align!r}, {copy!r})")
    dtype = np.dtype(spec, align, copy)
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise pickle.UnpicklingError(f"numpy.dtype {spec!r} is not a plain numeric dtype")
    return dtype


def _numeric_scalar(dtype: Any, data: Any = None) -> Any:
    """``numpy.core.multiarray.scalar`` for a numeric dtype and its raw bytes only."""
    import numpy as np

    try:
        from numpy._core.multiarray import scalar  # numpy >= 2
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import scalar  # type: ignore[no-redef]
    if not isinstance(dtype, np.dtype) or dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None:
        raise pickle.UnpicklingError(f"numpy scalar of dtype {dtype!r} is not a plain numeric scalar")
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise pickle.UnpicklingError(f"numpy scalar of dtype {dtype} needs {dtype.itemsize} bytes")
    return scalar(dtype, data)


NUMPY_SCALAR_GLOBALS: Mapping[tuple[str, str], Callable[..., Any]] = {
    ("numpy.core.multiarray", "scalar"): _numeric_scalar,
    ("numpy", "dtype"): _numeric_dtype,
}
"""The default admitted globals: ``(module, name)`` -> the (narrowed) object the file gets for it."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, allowed: Mapping[tuple[str, str], Any], source: str):
        super().__init__(file)
        self._allowed, self._source = allowed, source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except (KeyError, TypeError):
            raise DataError(f"{self._source}: refused to load global {module}.{name} "
                            f"(not one of the admitted: {_describe(self._allowed)})") from None

    def persistent_load(self, pid: Any) -> Any:
        raise DataError(f"{self._source}: refused a persistent id in the pickle")


def _describe(allowed: Mapping[tuple[str, str], Any]) -> str:
    return ", ".join(f"{m}.{n}" for m, n in allowed) or "none"


def load_restricted_pickle(path_or_bytes: str | os.PathLike[str] | bytes, *,
                           allowed: Mapping[tuple[str, str], Any] | None = None, source: str | None = None
                           ) -> dict[Any, Any]:
    """The dict pickled in a file (or bytes), resolving only the admitted globals.

    Args:
        path_or_bytes: a file path, or the pickle's bytes.
        allowed: ``(module, name)`` -> the object to hand the pickle for that global (default
            `NUMPY_SCALAR_GLOBALS`; pass ``{}`` for plain builtins data only). Nothing else resolves.
        source: the name messages use (default the path, or ``<bytes>``).

    Raises:
        DataError: one line naming the file and the cause: a refused global (``module.name``), a
            persistent id, a top level that is not a dict, or an unreadable, truncated or corrupt pickle.
    """
    allowed = NUMPY_SCALAR_GLOBALS if allowed is None else allowed
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data, label = bytes(path_or_bytes), source or "<bytes>"
    else:
        label = source or os.fspath(path_or_bytes)
        try:
            with open(path_or_bytes, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise DataError(f"{label}: cannot read: {exc.strerror or exc}") from None
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data), allowed, label).load()
    except DataError:
        raise
    except RecursionError:
        raise DataError(f"{label}: the pickle nests too deeply") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            MemoryError, OverflowError, UnicodeDecodeError) as exc:
        cause = " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(f"{label}: not a readable pickle ({type(exc).__name__}: {cause})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{label}: the pickle holds a {type(obj).__name__}, expected a dict")
    return obj
