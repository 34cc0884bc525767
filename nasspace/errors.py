"""The typed errors of nasspace; every package of the project raises these at its boundaries."""

from __future__ import annotations

__all__ = [
    "broken_pipe_exit",
    "NasSpaceError",
    "GenotypeError",
    "OptionError",
    "DataError",
    "ChecksumError",
    "MetricUnavailable",
    "BudgetExhausted",
    "FolderBusy",
    "describe_os_error",
]


class NasSpaceError(Exception):
    """Base class of every error raised on purpose by nasspace."""


class GenotypeError(NasSpaceError, ValueError):
    """A genotype (text, JSON or fields) is malformed or outside its search space.

    The message names the bad token or position and lists the valid choices.
    """


class OptionError(NasSpaceError, ValueError):
    """An option, name or value that is unknown or out of range (names what is allowed)."""


class DataError(NasSpaceError, RuntimeError):
    """A benchmark file is missing, unreadable, or not what the manifest says."""


class ChecksumError(DataError):
    """A fetched file's size, sha256 or git blob id differs from the manifest."""


class MetricUnavailable(NasSpaceError, KeyError):
    """A metric is not available for this dataset (or its source file is not fetched)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class BudgetExhausted(NasSpaceError, RuntimeError):
    """An oracle was asked for a new genotype after its query or cost budget was spent."""


class FolderBusy(NasSpaceError, RuntimeError):
    """Another process holds the lock of a run folder (`nasspace.atomic.folder_lock`)."""


def describe_os_error(exc: OSError) -> str:
    """One line naming the path(s) and the cause of an operating-system error, for a CLI to print.

    Example: ``/runs/x/config.json: Read-only file system``.
    """
    cause = exc.strerror or str(exc) or type(exc).__name__
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    if not paths or not exc.strerror:
        return str(exc) or cause
    return f"{' -> '.join(paths)}: {cause}"


BROKEN_PIPE_STATUS = 141  # what a shell reports for a command ended by SIGPIPE (128 + 13), as `yes | head` does


def broken_pipe_exit() -> int:
    """The exit status after the reader of stdout went away (``crlso data info | head``), with no traceback.

    Points stdout at ``os.devnull`` so that the interpreter's final flush cannot raise again.
    """
    import os
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout already closed or not a real file
        pass
    return BROKEN_PIPE_STATUS
