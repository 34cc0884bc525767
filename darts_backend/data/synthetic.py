"""Synthetic labelled images for tests: each class has its own colour and stripe pattern plus noise."""

from __future__ import annotations

import torch

from darts_backend.data.images import ImageSet
from darts_backend.errors import DataError

__all__ = ["synthetic_images"]


def synthetic_images(n: int, *, num_classes: int = 10, size: int = 8, generator: torch.Generator | None = None) -> ImageSet:
    """`n` learnable ``(3, size, size)`` uint8 images, labels cycling over the classes.

    Args:
        n: number of images.
        num_classes: number of classes.
        size: image height and width.
        generator: seeds the noise and the class templates.
    """
    if n < 1 or num_classes < 1 or size < 1:
        raise DataError(f"n, num_classes and size must be positive, got {n}, {num_classes}, {size}")
    templates = torch.rand(num_classes, 3, size, size, generator=generator) * 0.5
    stripes = (torch.arange(size).view(1, size) + torch.arange(num_classes).view(num_classes, 1)) % 3 == 0
    templates = templates + 0.4 * stripes.view(num_classes, 1, 1, size).float()
    labels = torch.arange(n) % num_classes
    noise = torch.rand(n, 3, size, size, generator=generator) * 0.3
    images = ((templates[labels] + noise).clamp(0, 1) * 255).round().to(torch.uint8)
    return ImageSet(images, labels.long(), tuple(f"class{i}" for i in range(num_classes)))
