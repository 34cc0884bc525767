"""Image data without torchvision: CIFAR-10 archive, image folders/tars, synthetic images, loader."""

from __future__ import annotations

from pathlib import Path

import torch

from darts_backend.data.cifar import CIFAR10_CLASSES, is_cifar10_archive, load_cifar10
from darts_backend.data.folder import NotAnImageFolder, is_image_folder, load_image_folder
from darts_backend.data.images import ImageSet
from darts_backend.data.loader import CIFAR10_MEAN, CIFAR10_STD, BatchLoader, augment_batch
from darts_backend.data.synthetic import synthetic_images
from darts_backend.errors import DataError

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "BatchLoader",
    "ImageSet",
    "augment_batch",
    "is_cifar10_archive",
    "is_image_folder",
    "load_cifar10",
    "load_dataset",
    "load_image_folder",
    "synthetic_images",
]

SYNTHETIC = "synthetic"

# Decoded subsets kept per process: a worker that trains cell after cell on the same images (a training
# oracle) decodes them once. Keyed by the generator's state before the draw; a hit restores its state after.
_CACHE_SIZE = 4
_cache: dict[tuple, tuple[ImageSet, torch.Tensor | None]] = {}


def load_dataset(source: str | Path, split: str = "train", *, limit: int | None = None, offset: int = 0,
                 generator: torch.Generator | None = None, synthetic_size: int = 32, progress: bool = False) -> ImageSet:
    """Load `split` from a CIFAR-10 python archive, an image folder/tar, or ``"synthetic"``.

    Args:
        source: path, or the word ``synthetic`` (1,000 images unless `limit` says otherwise).
        split: ``train`` or ``test`` (image folders accept any split folder name).
        limit: keep a random subset of this many images.
        offset: skip the first `offset` images of the random order before taking `limit`, so the same
            generator seed with ``offset=n`` gives images disjoint from ``limit=n, offset=0`` (held-out
            images of a run that trained on a subset).
        generator: draws the subset (and the synthetic images).
        synthetic_size: side of synthetic images.
        progress: progress bars on stderr while an image tar is listed and decoded (seconds for CIFAR-10).

    Raises:
        ValueError: the source is none of the known kinds, or is malformed.
    """
    if str(source) == SYNTHETIC:
        images = synthetic_images(offset + (limit or 1000), size=synthetic_size, generator=generator)
        return images.subset(torch.arange(offset, len(images))) if offset else images
    path = Path(source)
    key = None
    if path.is_file():  # an archive or tar: unchanged while its size and time stamp are
        stat = path.stat()
        state = None if generator is None else bytes(generator.get_state().numpy())
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, split, limit, offset, state)
        if key in _cache:
            images, after = _cache[key]
            if generator is not None and after is not None:
                generator.set_state(after)
            return images
    images = _load_uncached(path, split, limit, offset, generator, progress)
    if key is not None:
        if len(_cache) >= _CACHE_SIZE:
            del _cache[next(iter(_cache))]
        _cache[key] = (images, None if generator is None else generator.get_state())
    return images


def _load_uncached(path: Path, split: str, limit: int | None, offset: int, generator: torch.Generator | None,
                   progress: bool) -> ImageSet:
    if not path.exists():
        raise DataError(f"data source {str(path)!r} does not exist; give a CIFAR-10 python archive, "
                        f"an image folder or tar (<split>/<class>/*.jpg|png), or {SYNTHETIC!r}")
    if is_cifar10_archive(path):
        return load_cifar10(path, split).limit(limit, offset=offset, generator=generator)
    try:  # one pass over a tar: it is listed once, by the loader itself
        return load_image_folder(path, split, limit=limit, offset=offset, generator=generator, progress=progress)
    except NotAnImageFolder as exc:
        raise DataError(f"{path} is neither a CIFAR-10 python archive nor an image folder/tar with a {split!r} split "
                        f"({exc})") from None
