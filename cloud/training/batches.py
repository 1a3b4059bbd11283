"""Training batches drawn from an in-memory :class:`FrameSet`, timed.

The whole session sits in memory as uint8, so a batch is an index, a flip and a
conversion to float; :attr:`BatchStream.busy_s` accumulates the time spent making
batches so training can report the share of wall time spent waiting on data.

The frames may sit on the training device (then a batch is cut there and nothing is
copied per step) or on the host (then the uint8 batch is pinned and copied
asynchronously, a quarter of the bytes of a float batch, and converted on the device).
The random choices are made on the host, so a run draws the same batches on any device.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import torch
from torch.utils.data import IterableDataset

from cloud.training.augment import augment_batch
from cloud.training.config import Augment
from cloud.training.data import FrameSet

Batch = dict[str, torch.Tensor]


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[0, 255]`` -> float ``[-1, 1]`` (the generator's tanh range)."""
    return images.float().div_(127.5).sub_(1.0)


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """float ``[-1, 1]`` -> ``[0, 1]`` for metrics and pictures."""
    return (images.float() + 1.0).mul_(0.5).clamp_(0.0, 1.0)


def _frames(
    data: FrameSet, index: torch.Tensor, flip: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """uint8 images, pose maps and person masks of frames ``index`` (host tensors),
    mirrored where ``flip`` says, cut where ``data`` lives."""
    where = data.images.device
    mirror = flip is not None and bool(flip.any())  # host data: no device read
    index = index.to(where, non_blocking=True)
    images, poses, masks = data.images[index], data.poses[index], data.masks[index]
    if mirror and flip is not None:
        chosen = flip.to(where, non_blocking=True)[:, None, None, None]
        images = torch.where(chosen, images.flip(-1), images)
        masks = torch.where(chosen, masks.flip(-1), masks)
        poses = torch.where(chosen, data.poses_flipped[index], poses)
    return images, poses, masks


def _to_device(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    if images.device == device:
        return images
    if device.type == "cuda":  # an asynchronous copy needs page-locked memory
        images = images.pin_memory()
    return images.to(device, non_blocking=True)


def make_batch(
    data: FrameSet,
    index: torch.Tensor,
    flip: torch.Tensor | None = None,
    *,
    temporal: bool = False,
    device: torch.device | None = None,
) -> Batch:
    """Frames ``index`` as a float batch on ``device`` (default: where ``data`` is);
    ``flip`` marks samples to mirror. ``mask`` is the person mask in ``[-1, 1]`` (1 =
    person) and ``has_mask`` says which samples have one (float 0/1)."""
    device = data.images.device if device is None else device
    parts = {"image": 0, "pose": 1, "mask": 2}
    cut = _frames(data, index, flip)
    batch: Batch = {k: to_float(_to_device(cut[i], device)) for k, i in parts.items()}
    batch["has_mask"] = _to_device(data.has_mask[index.to(data.has_mask.device)], device).float()
    if temporal:
        prev = _frames(data, data.prev[index], flip)
        batch.update(
            {f"prev_{k}": to_float(_to_device(prev[parts[k]], device)) for k in ("image", "pose")}
        )
    return batch


class BatchStream(IterableDataset[Batch]):
    """An endless stream of random batches (reshuffled each pass over the frames),
    flipped and transformed as ``augment`` says."""

    def __init__(
        self,
        data: FrameSet,
        batch_size: int,
        *,
        augment: Augment | None = None,
        temporal: bool = False,
        seed: int = 0,
        device: torch.device | None = None,
    ) -> None:
        super().__init__()
        if len(data) == 0:
            raise ValueError("no training frames")
        self.data = data
        self.batch_size = min(batch_size, len(data))
        self.augment = augment or Augment()
        self.temporal = temporal
        self.device = device  # where batches go (default: where the frames are)
        self.generator = torch.Generator().manual_seed(seed)
        self.busy_s = 0.0
        self.batches = 0

    def __iter__(self) -> Iterator[Batch]:
        while True:
            order = torch.randperm(len(self.data), generator=self.generator)
            for start in range(0, len(order) - self.batch_size + 1, self.batch_size):
                t0 = time.perf_counter()
                index = order[start : start + self.batch_size]
                flip = None
                if self.augment.flip:
                    flip = torch.rand(len(index), generator=self.generator) < 0.5
                batch = make_batch(
                    self.data, index, flip, temporal=self.temporal, device=self.device
                )
                batch = augment_batch(batch, self.augment, self.generator)
                self.busy_s += time.perf_counter() - t0
                self.batches += 1
                yield batch
