"""Benchmark files: the manifest, where they live, and a verifying, atomic fetcher.

The manifest (``nasspace/manifest.json``, shipped inside the package so an installed wheel has it
too) lists every file with its URL, checksums, size and license. ``DataStore`` resolves the data
folder, reports what is present, and fetches a file from a mirror folder laid out as
``<mirror>/<owner>/<repo>/<commit>/<path>`` (the raw-URL path) or from its URL. A file is written to a
temporary name, verified, then renamed: a failed fetch leaves nothing behind.

Every file handed out by `DataStore.path` is verified against the manifest, cheaply: a verified
file's size and modification time are remembered (in this process, and in
``$CRLSO_CACHE_DIR/verified-files.json``, default ``~/.cache/crlso``), and the checksum is
recomputed only when either changes. A same-size edit of a table is thus caught on load, not only
by ``crlso data info --verify``.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

from nasspace.atomic import atomic_path
from nasspace.errors import ChecksumError, DataError

__all__ = ["ManifestEntry", "load_manifest", "default_data_dir", "DataStore", "FileStatus"]

RAW_PREFIX = "https://raw.githubusercontent.com/"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ManifestEntry:
    """One benchmark file of the manifest."""

    name: str
    filename: str
    holds: str
    license: str
    url: str | None = None
    mirror_path: str | None = None
    size: int | None = None
    sha256: str | None = None
    git_blob: str | None = None
    md5: str | None = None
    default: bool = True

    @property
    def mirror_relpath(self) -> str | None:
        """Where the file sits below a mirror folder: the raw-URL path, or the explicit one."""
        if self.mirror_path:
            return self.mirror_path
        if self.url and self.url.startswith(RAW_PREFIX):
            return self.url[len(RAW_PREFIX) :]
        return None

    @property
    def has_checksum(self) -> bool:
        return bool(self.sha256 or self.git_blob or self.md5)


def load_manifest() -> dict[str, ManifestEntry]:
    """Every manifest entry by name, in manifest order."""
    text = resources.files("nasspace").joinpath("manifest.json").read_text()
    raw = json.loads(text)
    return {item["name"]: ManifestEntry(**item) for item in raw["files"]}


def default_data_dir() -> Path:
    """``$CRLSO_DATA_DIR``, else ``data/`` of the source checkout this package runs from, else
    ``~/.cache/crlso/data``."""
    env = os.environ.get("CRLSO_DATA_DIR")
    if env:
        return Path(env).expanduser()
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "data").is_dir():
        return checkout / "data"
    return Path.home() / ".cache" / "crlso" / "data"


@dataclass(frozen=True)
class FileStatus:
    """What `DataStore.status` found for one entry: ``present``, ``missing`` or ``corrupt``."""

    entry: ManifestEntry
    path: Path
    state: str
    detail: str = ""


class DataStore:
    """The data folder and the operations on it.

    Args:
        data_dir: the folder holding fetched files (default: `default_data_dir`).
        manifest: entries by name (default: the packaged manifest).
        verify: `path` checks each file against the manifest (cached by size and mtime; see the module doc).
    """

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, manifest: dict[str, ManifestEntry] | None = None,
                 *, verify: bool = True):
        self.data_dir = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
        self.manifest = manifest if manifest is not None else load_manifest()
        self.verify = verify

    def entry(self, name: str) -> ManifestEntry:
        if name not in self.manifest:
            raise DataError(f"unknown data file {name!r}; the manifest lists: {', '.join(self.manifest)}")
        return self.manifest[name]

    def path(self, name: str) -> Path:
        """The path of a fetched file.

        Raises:
            DataError: when it is not there, with the command that fetches it.
            ChecksumError: it differs from the manifest (says how to fetch it again).
        """
        entry = self.entry(name)
        path = self.data_dir / entry.filename
        if not path.is_file():
            how = (
                f"crlso data fetch {name} --data-dir {self.data_dir} [--mirror DIR]"
                if (entry.url or entry.mirror_relpath)
                else f"place {entry.filename} in {self.data_dir} by hand"
            )
            raise DataError(f"data file {name!r} ({entry.filename}) is not in {self.data_dir}; get it with: {how}")
        if self.verify:
            _verify_cached(path, entry)
        return path

    def has(self, name: str) -> bool:
        return (self.data_dir / self.entry(name).filename).is_file()

    def status(self, *, verify: bool = False) -> list[FileStatus]:
        """Presence of every entry; with ``verify`` the checksums are recomputed too."""
        result = []
        for entry in self.manifest.values():
            path = self.data_dir / entry.filename
            if not path.is_file():
                result.append(FileStatus(entry, path, "missing"))
                continue
            try:
                if verify:
                    verify_file(path, entry)
                elif entry.size is not None and path.stat().st_size != entry.size:
                    raise ChecksumError(f"size {path.stat().st_size} != {entry.size}")
            except ChecksumError as exc:
                result.append(FileStatus(entry, path, "corrupt", str(exc)))
                continue
            result.append(FileStatus(entry, path, "present"))
        return result

    def default_names(self) -> list[str]:
        return [name for name, entry in self.manifest.items() if entry.default]

    def fetch(
        self,
        name: str,
        *,
        mirror: str | os.PathLike[str] | None = None,
        force: bool = False,
        timeout: float = 60.0,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> Path:
        """Copy ``name`` from the mirror (when given and it has the file) or download it, verify, rename.

        An already present file that verifies is kept as is (unless ``force``).

        Raises:
            ChecksumError: the new file's size or checksum differs from the manifest (nothing is kept).
            DataError: no source has the file.
        """
        entry = self.entry(name)
        target = self.data_dir / entry.filename
        if target.is_file() and not force:
            try:
                verify_file(target, entry)
                return target
            except ChecksumError:
                pass  # replaced below
        with _Source(entry, mirror, timeout) as (source, total), atomic_path(target, suffix=".part") as tmp:
            with open(tmp, "wb") as out:
                copied = 0
                while chunk := source.read(_CHUNK):
                    out.write(chunk)
                    copied += len(chunk)
                    if progress:
                        progress(copied, total)
            verify_file(tmp, entry)
        return target


class _Source:
    """Context manager yielding ``(binary stream, size or None)`` for an entry's first working source."""

    def __init__(self, entry: ManifestEntry, mirror: str | os.PathLike[str] | None, timeout: float):
        self.entry, self.mirror, self.timeout = entry, mirror, timeout
        self.stream: BinaryIO | None = None

    def __enter__(self) -> tuple[BinaryIO, int | None]:
        entry, tried = self.entry, []
        if self.mirror is not None and entry.mirror_relpath:
            candidate = Path(self.mirror).expanduser() / entry.mirror_relpath
            if candidate.is_file():
                self.stream = open(candidate, "rb")
                return self.stream, candidate.stat().st_size
            tried.append(f"mirror: no file at {candidate}")
        if entry.url:
            try:
                response = urllib.request.urlopen(entry.url, timeout=self.timeout)  # noqa: S310 (https URL from the manifest)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                tried.append(f"download of {entry.url} failed: {exc}")
            else:
                self.stream = response
                length = response.headers.get("Content-Length")
                return response, int(length) if length and length.isdigit() else None
        if not tried:
            tried.append("the manifest gives no URL and no mirror folder was given")
        raise DataError(f"cannot fetch {entry.name!r}: " + "; ".join(tried))

    def __exit__(self, *exc_info: Any) -> None:
        if self.stream is not None:
            self.stream.close()


def file_digests(path: Path) -> dict[str, str]:
    """``{"sha256", "git_blob", "md5"}`` hex digests of a file, read once in chunks."""
    size = path.stat().st_size
    sha, md5 = hashlib.sha256(), hashlib.md5()
    blob = hashlib.sha1(f"blob {size}\0".encode())
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            sha.update(chunk)
            md5.update(chunk)
            blob.update(chunk)
    return {"sha256": sha.hexdigest(), "git_blob": blob.hexdigest(), "md5": md5.hexdigest()}


def verify_file(path: Path, entry: ManifestEntry) -> None:
    """Check size and every checksum the manifest gives for ``entry``.

    Raises:
        ChecksumError: naming the first field that differs, with both values.
    """
    size = path.stat().st_size
    if entry.size is not None and size != entry.size:
        raise ChecksumError(f"{entry.name}: {path.name} has {size} bytes, the manifest says {entry.size}")
    if not entry.has_checksum:
        return
    digests = file_digests(path)
    for field in ("sha256", "git_blob", "md5"):
        expected = getattr(entry, field)
        if expected and digests[field] != expected:
            raise ChecksumError(f"{entry.name}: {field} of {path.name} is {digests[field]}, the manifest says {expected}")


# -- verification on load, cached by size and mtime ------------------------------------------------
_VERIFIED: dict[str, tuple[int, int, str]] = {}  # resolved path -> (size, mtime_ns, manifest digest) of this process


def _verification_cache() -> Path:
    return Path(os.environ.get("CRLSO_CACHE_DIR", Path.home() / ".cache" / "crlso")).expanduser() / "verified-files.json"


def _verify_cached(path: Path, entry: ManifestEntry) -> None:
    """`verify_file` unless this file, at this size and mtime, was verified against this manifest entry before.

    Raises:
        ChecksumError: the file differs from the manifest.
    """
    if not entry.has_checksum and entry.size is None:
        return
    stat = path.stat()
    key = str(path.resolve())
    stamp = (stat.st_size, stat.st_mtime_ns, entry.sha256 or entry.git_blob or entry.md5 or str(entry.size))
    if _VERIFIED.get(key) == stamp:
        return
    cache_file = _verification_cache()
    try:
        cached = json.loads(cache_file.read_text())
        if not isinstance(cached, dict):
            cached = {}
    except (OSError, ValueError, RecursionError):
        cached = {}
    if cached.get(key) == list(stamp):
        _VERIFIED[key] = stamp
        return
    try:
        verify_file(path, entry)
    except ChecksumError as exc:
        raise ChecksumError(f"{exc}; the file was changed or damaged: fetch it again with "
                            f"crlso data fetch {entry.name} --force --data-dir {path.parent} [--mirror DIR]") from None
    _VERIFIED[key] = stamp
    cached[key] = list(stamp)
    try:
        from nasspace.atomic import write_json_atomic

        write_json_atomic(cache_file, cached)
    except OSError:
        pass  # an unwritable cache only costs a re-check next time
