"""The errors crlso raises: one tree rooted in `CrlsoError`.

Each class also derives from the built-in exception it refines (``ValueError``, ``FileNotFoundError``...), so
``except ValueError`` keeps working; the ``crlso`` command prints any `CrlsoError` as one line and exits 2
(`TaskFailed`: 1). The genotype format's own errors stay in `nasspace.errors` (`NasSpaceError`).
"""

from __future__ import annotations

__all__ = [
    "CrlsoError",
    "ConfigError",
    "InputError",
    "CheckpointError",
    "MissingFileError",
    "NotAFolderError",
    "RunFolderError",
    "RunLogError",
    "RunFolderBusy",
    "RunExistsError",
    "OracleError",
    "TaskFailed",
    "SearchError",
    "MissingDependency",
]


class CrlsoError(Exception):
    """Base of every error crlso raises on purpose."""


class ConfigError(CrlsoError, ValueError):
    """An option, setting or config value that is unknown or out of range (names what is allowed)."""


class InputError(CrlsoError, ValueError):
    """A file the user gave (genotype list, proxy scores, space or table file) does not hold what it must."""


class CheckpointError(CrlsoError, ValueError):
    """A model or checkpoint file is missing a part, corrupt, or made for another space or setting."""


class MissingFileError(CrlsoError, FileNotFoundError):
    """A file or folder the command needs does not exist."""


class NotAFolderError(CrlsoError, NotADirectoryError):
    """A path that must be a folder is not one."""


class RunFolderError(CrlsoError):
    """A run folder cannot be used as it is (the message names the file and what is wrong)."""


class RunLogError(RunFolderError, ValueError):
    """A line of ``queries.jsonl`` is malformed, or disagrees with the benchmark it claims to come from."""


class RunFolderBusy(RunFolderError):
    """Another process is writing into the run folder."""


class RunExistsError(RunFolderError, FileExistsError):
    """The output folder holds a run with another config."""


class OracleError(CrlsoError, RuntimeError):
    """An oracle or the executor that runs its evaluations failed."""


class TaskFailed(OracleError):
    """A task raised in a worker; the message names the task and carries the worker's traceback text."""


class SearchError(CrlsoError, RuntimeError):
    """A search cannot go on (its models diverged, or it ran out of cells)."""


class MissingDependency(CrlsoError, ImportError):
    """An optional package a feature needs is not installed (names the extra that brings it)."""
