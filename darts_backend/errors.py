"""The errors darts_backend raises: one tree rooted in `DartsBackendError`.

Each class also derives from the built-in exception it refines, so ``except ValueError`` keeps working; the
``darts-backend`` command prints any `DartsBackendError` as one line and exits 2.
"""

from __future__ import annotations

__all__ = ["DartsBackendError", "ConfigError", "DataError", "RunFolderError", "MissingFileError", "NotAFolderError"]


class DartsBackendError(Exception):
    """Base of every error darts_backend raises on purpose."""


class ConfigError(DartsBackendError, ValueError):
    """An option, setting or config value that is unknown or out of range (names what is allowed)."""


class DataError(DartsBackendError, ValueError):
    """Images or a dataset file do not hold what they must (wrong layout, wrong shape, unreadable)."""


class RunFolderError(DartsBackendError, ValueError):
    """A run folder, its results or its checkpoint cannot be used as they are."""


class MissingFileError(DartsBackendError, FileNotFoundError):
    """A file or folder the command needs does not exist."""


class NotAFolderError(DartsBackendError, NotADirectoryError):
    """A path that must be a folder is not one."""
