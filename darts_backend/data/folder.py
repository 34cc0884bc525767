"""Image folders: a directory or a tar holding ``<split>/<class>/<name>.jpg|png``, decoded with Pillow."""

from __future__ import annotations

import contextlib
import io
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from darts_backend.data.images import ImageSet
from darts_backend.errors import DataError

__all__ = ["IMAGE_SUFFIXES", "NotAnImageFolder", "load_image_folder", "is_image_folder"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class NotAnImageFolder(DataError):
    """The path is not a folder or tar, or holds no images of the asked split."""


@contextlib.contextmanager
def _listing(path: Path, progress: bool = False) -> Iterator[tuple[list[str], Callable[[str], bytes]]]:
    """All image paths (posix, relative to the root) and a reader for one of them.

    A tar has no index: listing it reads every header (seconds for CIFAR-10's 60,000 images), shown as a
    byte progress bar on stderr when ``progress``.
    """
    if path.is_dir():
        names = sorted(p.relative_to(path).as_posix() for p in path.rglob("*")
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        yield names, lambda name: (path / name).read_bytes()
        return
    if not (path.is_file() and tarfile.is_tarfile(path)):
        raise NotAnImageFolder(f"{path} is neither a folder nor a tar file")
    with tarfile.open(path) as tar:
        members = {}
        with tqdm(total=path.stat().st_size, unit="B", unit_scale=True, leave=False, desc=f"listing {path.name}",
                  disable=not progress) as bar:
            for m in tar:
                if m.isfile() and PurePosixPath(m.name).suffix.lower() in IMAGE_SUFFIXES:
                    members[m.name.lstrip("./")] = m
                bar.update(tar.offset - bar.n)

        def read(name: str) -> bytes:
            handle = tar.extractfile(members[name])
            assert handle is not None  # regular members always have a handle
            return handle.read()

        yield sorted(members), read


def is_image_folder(path: str | Path, split: str = "train") -> bool:
    """True if `path` (folder or tar) holds images under ``<split>/<class>/``."""
    try:
        with _listing(Path(path)) as (names, _):
            pass
    except ValueError:
        return False
    return any(len(PurePosixPath(n).parts) >= 3 and PurePosixPath(n).parts[-3] == split for n in names)


def load_image_folder(path: str | Path, split: str = "train", *, limit: int | None = None, offset: int = 0,
                      generator: torch.Generator | None = None, progress: bool = False) -> ImageSet:
    """Decode the images of one split.

    Args:
        path: a folder or a tar whose entries are ``[prefix/]<split>/<class>/<file>`` images.
        split: the split folder name (``train``, ``test``, ...).
        limit: decode only a random subset of this many images (classes are taken from all files).
        offset: skip the first `offset` images of the random order first (see `ImageSet.limit`).
        generator: draws the subset.
        progress: progress bars on stderr for listing a tar and decoding the images.

    Returns:
        An `ImageSet`; classes are the sorted class-folder names.

    Raises:
        NotAnImageFolder: not a folder or tar, or no images for `split`.
        ValueError: images of different sizes, or undecodable files.
    """
    with _listing(Path(path), progress) as (names, read):
        return _decode(path, names, read, split, limit, offset, generator, progress)


def _decode(path: str | Path, names: list[str], read: Callable[[str], bytes], split: str, limit: int | None,
            offset: int, generator: torch.Generator | None, progress: bool) -> ImageSet:
    entries = [(n, PurePosixPath(n).parts[-2]) for n in names
               if len(PurePosixPath(n).parts) >= 3 and PurePosixPath(n).parts[-3] == split]
    if not entries:
        splits = sorted({PurePosixPath(n).parts[-3] for n in names if len(PurePosixPath(n).parts) >= 3})
        raise NotAnImageFolder(f"no images under split {split!r} in {path}; splits found: {', '.join(splits) or 'none'}")
    classes = tuple(sorted({c for _, c in entries}))
    if limit is not None and limit < 1:
        raise DataError(f"limit must be >= 1, got {limit}")
    if offset < 0 or (offset and offset >= len(entries)):
        raise DataError(f"offset must be in [0, {len(entries)}) for split {split!r}, got {offset}")
    if offset or (limit is not None and limit < len(entries)):
        order = torch.randperm(len(entries), generator=generator)
        keep = order[offset:offset + limit if limit is not None else None].sort().values.tolist()
        entries = [entries[i] for i in keep]
    images = []
    for name, _ in tqdm(entries, desc=f"decoding {split} images", unit="img", leave=False, disable=not progress):
        try:
            with Image.open(io.BytesIO(read(name))) as img:
                array = np.asarray(img.convert("RGB"), dtype=np.uint8)
        except OSError as exc:
            raise DataError(f"cannot decode image {name!r} in {path}: {exc}") from exc
        if images and array.shape != images[0].shape:
            raise DataError(f"image {name!r} is {array.shape[:2]}, others are {images[0].shape[:2]}; sizes must agree")
        images.append(array)
    stacked = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    index = {c: i for i, c in enumerate(classes)}
    labels = torch.tensor([index[c] for _, c in entries], dtype=torch.int64)
    return ImageSet(stacked, labels, classes)
