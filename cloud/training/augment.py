"""Geometric augmentation of training batches: the pose map, the frame and the person
mask of a sample are scaled, shifted and rotated alike.

A visitor's clip shows a few hundred poses at one place and size in the frame; the
reference dance they are rendered into puts new poses at slightly different places and
sizes. Random similarity transforms of whole samples teach the generator to draw the
same person wherever and however large the pose is, and cost one ``grid_sample`` per
tensor (a few milliseconds a batch on the CPU). Flips are not done here: a mirrored pose
map must swap the colours of left and right limbs, so it is redrawn once when the data
is decoded (:mod:`cloud.training.data`) and chosen per sample in
:mod:`cloud.training.batches`.

The random numbers come from the caller's host generator, so a run draws the same
transforms on any device.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812

from cloud.training.config import Augment

# Tensors of a batch and how the area a transform brings in from outside the frame is
# filled: the frame repeats its edge (the booth goes on), a pose map and a mask are empty
# there (nobody is outside the frame).
_EDGE = ("image", "prev_image", "plate")
_EMPTY = ("pose", "prev_pose", "mask")


def random_transforms(n: int, augment: Augment, generator: torch.Generator) -> torch.Tensor:
    """``[n, 2, 3]`` affine matrices (output -> input, normalised coordinates), each a
    zoom by up to ``augment.scale``, a rotation by up to ``augment.rotate`` degrees and a
    shift by up to ``augment.shift`` of the side."""
    u = torch.rand(n, 4, generator=generator) * 2 - 1  # uniform in [-1, 1)
    zoom = 1.0 + augment.scale * u[:, 0]
    angle = math.radians(augment.rotate) * u[:, 1]
    shift = 2.0 * augment.shift * u[:, 2:]  # normalised coordinates span 2
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    return torch.stack(
        [
            torch.stack([cos, -sin, shift[:, 0]], dim=1),
            torch.stack([sin, cos, shift[:, 1]], dim=1),
        ],
        dim=1,
    )


def _warp(x: torch.Tensor, theta: torch.Tensor, *, empty: bool) -> torch.Tensor:
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    if not empty:
        return F.grid_sample(x, grid, padding_mode="border", align_corners=False)
    # Float batches are in [-1, 1] with -1 = nothing there (black pose map, no person):
    # shift to [0, 2] so that zero padding brings in "nothing".
    return F.grid_sample(x + 1.0, grid, padding_mode="zeros", align_corners=False) - 1.0


def augment_batch(
    batch: dict[str, torch.Tensor], augment: Augment, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """``batch`` with every sample's tensors moved by one random transform (a new dict;
    keys it does not know are passed through)."""
    if not augment.geometric:
        return batch
    n = next(iter(batch.values())).shape[0]
    theta = random_transforms(n, augment, generator)
    out = dict(batch)
    for key in (*_EDGE, *_EMPTY):
        if key in batch:
            out[key] = _warp(batch[key], theta, empty=key in _EMPTY)
    return out
