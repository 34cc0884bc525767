"""`ImageSet`: a labelled set of uint8 images held in one tensor."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from darts_backend.errors import DataError

__all__ = ["ImageSet"]


@dataclass(frozen=True)
class ImageSet:
    """Images and labels in memory.

    Attributes:
        images: ``(N, 3, H, W)`` uint8.
        labels: ``(N,)`` int64 class indices.
        classes: class names, indexed by label.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4 or self.images.shape[1] != 3:
            raise DataError(f"images must be uint8 (N, 3, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise DataError(f"labels must be ({self.images.shape[0]},), got {tuple(self.labels.shape)}")
        if len(self) and (int(self.labels.min()) < 0 or int(self.labels.max()) >= len(self.classes)):
            raise DataError(f"labels must lie in [0, {len(self.classes)})")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def subset(self, indices: torch.Tensor) -> "ImageSet":
        """The images at `indices` ``(M,)``."""
        return ImageSet(self.images[indices], self.labels[indices], self.classes)

    def limit(self, n: int | None, *, offset: int = 0, generator: torch.Generator | None = None) -> "ImageSet":
        """A random subset of `n` images: positions ``offset .. offset + n`` of a random order.

        ``n=None`` takes every image from `offset` on; with ``offset=0`` and ``n >= len`` nothing is dropped
        (and nothing is drawn from `generator`).
        """
        if n is not None and n < 1:
            raise DataError(f"limit must be >= 1, got {n}")
        if offset < 0:
            raise DataError(f"offset must be >= 0, got {offset}")
        if offset == 0 and (n is None or n >= len(self)):
            return self
        if offset >= len(self):
            raise DataError(f"offset {offset} leaves none of the {len(self)} images")
        order = torch.randperm(len(self), generator=generator)
        return self.subset(order[offset:offset + n if n is not None else None].sort().values)

    def split(self, fraction: float, *, generator: torch.Generator | None = None) -> tuple["ImageSet", "ImageSet"]:
        """Random split into ``(first, second)`` with ``round(fraction * N)`` images in the first."""
        if not 0.0 < fraction < 1.0:
            raise DataError(f"split fraction must be in (0, 1), got {fraction}")
        order = torch.randperm(len(self), generator=generator)
        cut = int(round(fraction * len(self)))
        if cut == 0 or cut == len(self):
            raise DataError(f"splitting {len(self)} images at {fraction} leaves one side empty")
        return self.subset(order[:cut].sort().values), self.subset(order[cut:].sort().values)
