"""A batch loader over an in-memory `ImageSet`, with augmentation in plain torch.

Images stay uint8 on the target device; each batch is gathered, randomly cropped (zero padding) and
flipped, converted to float and normalised there, so the loader costs a few small kernels per step.
The order and augmentation of epoch ``e`` depend only on ``(seed, e)``: resuming at an epoch boundary
reproduces an uninterrupted run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F

from darts_backend.data.images import ImageSet
from darts_backend.errors import DataError

__all__ = ["CIFAR10_MEAN", "CIFAR10_STD", "BatchLoader", "augment_batch"]

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def augment_batch(images: torch.Tensor, *, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Random crop (after zero padding) and horizontal flip, per image.

    Args:
        images: ``(B, C, H, W)`` any dtype.
        padding: pixels of zero padding on each side before cropping back to ``(H, W)``.
        generator: draws the offsets and flips; it lives on the images' device, so nothing is copied
            between host and device.

    Returns:
        ``(B, C, H, W)`` augmented images, same dtype and device.
    """
    b, _, h, w = images.shape
    device = images.device
    flips = torch.rand(b, generator=generator, device=device) < 0.5
    if padding > 0:
        padded = F.pad(images, (padding, padding, padding, padding))
        dy = torch.randint(0, 2 * padding + 1, (b,), generator=generator, device=device)
        dx = torch.randint(0, 2 * padding + 1, (b,), generator=generator, device=device)
        rows = dy[:, None] + torch.arange(h, device=device)  # (B, H)
        cols = dx[:, None] + torch.arange(w, device=device)  # (B, W)
        batch = torch.arange(b, device=device)[:, None, None]
        images = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    flips = flips.view(b, 1, 1, 1)
    return torch.where(flips, images.flip(3), images)


class BatchLoader:
    """Shuffled, augmented, normalised batches of an `ImageSet` on `device`.

    Args:
        data: the images.
        batch_size: images per batch.
        device: where batches are produced.
        seed: seeds the shuffling and augmentation of every epoch.
        augment: random crop (padding 4) and flip.
        shuffle: reshuffle each epoch.
        drop_last: skip the final incomplete batch.
        mean, std: per-channel normalisation on the [0, 1] scale.
        channels_last: emit channels-last tensors.
    """

    def __init__(self, data: ImageSet, batch_size: int, *, device: torch.device | str = "cpu", seed: int = 0,
                 augment: bool = True, shuffle: bool = True, drop_last: bool = True,
                 mean: Sequence[float] = CIFAR10_MEAN, std: Sequence[float] = CIFAR10_STD,
                 channels_last: bool = False):
        if batch_size < 1:
            raise DataError(f"batch_size must be >= 1, got {batch_size}")
        if drop_last and len(data) < batch_size:
            raise DataError(f"{len(data)} images cannot fill one batch of {batch_size}; lower the batch size")
        self.device = torch.device(device)
        self.images = data.images.to(self.device)
        self.labels = data.labels.to(self.device)
        self.batch_size, self.seed = batch_size, seed
        self.augment, self.shuffle, self.drop_last = augment, shuffle, drop_last
        self.channels_last = channels_last
        self.mean = torch.tensor(mean, device=self.device).view(1, 3, 1, 1) * 255.0
        self.inv_std = 1.0 / (torch.tensor(std, device=self.device).view(1, 3, 1, 1) * 255.0)
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Select the shuffling/augmentation stream of `epoch`."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(x (B, 3, H, W) float32, y (B,) int64)`` on the loader's device."""
        generator = torch.Generator(device=self.device).manual_seed(self.seed * 1_000_003 + self.epoch)
        n = len(self.labels)
        if self.shuffle:
            order = torch.randperm(n, generator=generator, device=self.device)
        else:
            order = torch.arange(n, device=self.device)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            x = self.images.index_select(0, idx)
            if self.augment:
                x = augment_batch(x, padding=4, generator=generator)
            x = (x.float() - self.mean) * self.inv_std
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, self.labels.index_select(0, idx)
