"""Training batches drawn from an in-memory :class:`FrameSet`, timed.

The whole session sits in memory as uint8, so a batch is an index, a flip and a
conversion to float; :attr:`BatchStream.busy_s` accumulates the time spent making
batches so training can report the share of wall time spent waiting on data.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import torch
from torch.utils.data import IterableDataset

from cloud.training.data import FrameSet

Batch = dict[str, torch.Tensor]


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[0, 255]`` -> float ``[-1, 1]`` (the generator's tanh range)."""
    return images.float().div_(127.5).sub_(1.0)


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """float ``[-1, 1]`` -> ``[0, 1]`` for metrics and pictures."""
    return (images.float() + 1.0).mul_(0.5).clamp_(0.0, 1.0)


def make_batch(
    data: FrameSet, index: torch.Tensor, flip: torch.Tensor | None = None, *, temporal: bool = False
) -> Batch:
    """Frames ``index`` as a float batch; ``flip`` marks samples to mirror."""
    images, poses = data.images[index], data.poses[index]
    batch: Batch = {}
    if flip is not None and bool(flip.any()):
        images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        poses = torch.where(flip[:, None, None, None], data.poses_flipped[index], poses)
    batch["image"], batch["pose"] = to_float(images), to_float(poses)
    if temporal:
        prev = data.prev[index]
        p_images, p_poses = data.images[prev], data.poses[prev]
        if flip is not None and bool(flip.any()):
            p_images = torch.where(flip[:, None, None, None], p_images.flip(-1), p_images)
            p_poses = torch.where(flip[:, None, None, None], data.poses_flipped[prev], p_poses)
        batch["prev_image"], batch["prev_pose"] = to_float(p_images), to_float(p_poses)
    return batch


class BatchStream(IterableDataset[Batch]):
    """An endless stream of random batches (reshuffled each pass over the frames)."""

    def __init__(
        self,
        data: FrameSet,
        batch_size: int,
        *,
        flip: bool = True,
        temporal: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if len(data) == 0:
            raise ValueError("no training frames")
        self.data = data
        self.batch_size = min(batch_size, len(data))
        self.flip = flip
        self.temporal = temporal
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
                if self.flip:
                    flip = torch.rand(len(index), generator=self.generator) < 0.5
                batch = make_batch(self.data, index, flip, temporal=self.temporal)
                self.busy_s += time.perf_counter() - t0
                self.batches += 1
                yield batch
