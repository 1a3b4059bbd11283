"""Held-out evaluation: generate frames for unseen poses, score what would be rendered.

A full-frame generator's output is scored as it is. A dancer-only generator's RGB + alpha
is composited over the booth behind the dancer first, as the renderer composites it
over the clean plate: here the plate is estimated from the scored frames themselves,
per clip, as the median of each pixel over the frames where the (grown) person mask
leaves it uncovered. Frames of a set without any mask have no plate: they are scored
on the generator's RGB as it is (full frame), and :attr:`ScoringSet.full_frame` counts
them.

Frames may be scored at a higher resolution than the model's (``dancebooth bench
train`` scores every model at 256 px, so a 128 px and a 256 px model are judged on the
same pixels): the pose maps are redrawn at the model's resolution from the frames'
keypoints, and its output is upsampled to the frames' before compositing.

Generation and scoring run on the model's device; the scores reach the host in one
read at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from cloud.training.batches import make_batch, to_float, to_unit
from cloud.training.data import FrameSet
from cloud.training.metrics import quality, region_quality
from cloud.training.model import Pix2Pix
from common.posemap import pose_map


def estimate_plates(frames: FrameSet) -> tuple[torch.Tensor, torch.Tensor]:
    """``(plates [N, 3, R, R] uint8, known [N] bool)``: each frame's clip's empty booth
    (median over the clip's frames of the pixels no grown person mask covers), and
    whether its clip had any mask to estimate it from."""
    n, r = len(frames), frames.resolution
    plates = frames.images.clone()
    known = torch.zeros(n, dtype=torch.bool)
    grow = 2 * max(2, r // 32) + 1
    for clip in dict.fromkeys(frames.clips):
        idx = torch.tensor([i for i, c in enumerate(frames.clips) if c == clip])
        has = frames.has_mask[idx].cpu()
        if not bool(has.any()):
            continue
        images = frames.images[idx][has].cpu().float()
        person = frames.masks[idx][has].cpu().float() / 255.0
        covered = F.max_pool2d(person, grow, stride=1, padding=grow // 2) > 0.02
        booth = images.masked_fill(covered, float("nan"))
        plate = torch.nanmedian(booth, dim=0).values
        # Pixels every frame covers (the dancer never left them): the plain median.
        plate = torch.where(plate.isnan(), images.median(dim=0).values, plate)
        plates[idx] = plate.round().clamp(0, 255).to(torch.uint8)
        known[idx] = True
    return plates, known


@dataclass
class ScoringSet:
    """Frames ready to score a model of ``model_resolution`` on: pose maps at the model's
    resolution, the truth and the booth plates at the frames'."""

    frames: FrameSet
    model_resolution: int
    poses: torch.Tensor  # [N, 3, r, r] uint8 RGB at the model's resolution
    plates: torch.Tensor  # [N, 3, R, R] uint8 RGB
    plate_known: torch.Tensor  # [N] bool

    @property
    def full_frame(self) -> int:
        """Frames scored on the generator's whole frame for want of a plate."""
        return int((~self.plate_known).sum())

    @classmethod
    def of(cls, frames: FrameSet, model: Pix2Pix | int) -> ScoringSet:
        """For scoring ``model`` (or any full-frame model of that resolution)."""
        if isinstance(model, int):
            resolution, composite = model, False
        else:
            resolution, composite = model.config.resolution, model.config.dancer_only
        if composite:
            plates, known = estimate_plates(frames)
        else:  # nothing to composite over
            plates, known = frames.images, torch.zeros(len(frames), dtype=torch.bool)
        return cls(frames, resolution, _poses_at(frames, resolution), plates, known)


def _poses_at(frames: FrameSet, resolution: int) -> torch.Tensor:
    if resolution == frames.resolution:
        return frames.poses
    scale = resolution / frames.resolution
    maps = []
    for kps in frames.keypoints.numpy():
        k = kps.copy()
        k[:, :2] = (k[:, :2] + 0.5) * scale - 0.5  # pixel centres stay centres
        maps.append(np.ascontiguousarray(pose_map(k, resolution, resolution)[..., ::-1]))
    return torch.from_numpy(np.stack(maps)).permute(0, 3, 1, 2).contiguous()


@torch.no_grad()
def generate_frames(model: Pix2Pix, data: FrameSet, *, batch_size: int = 8) -> torch.Tensor:
    """Generated frames ``[N, C, R, R]`` in ``[-1, 1]`` (float, on the model's device) for
    every frame of ``data``: C = 3 (RGB), or 4 (RGB + alpha) for a dancer-only model."""
    return _generate(model, data, None, batch_size)


def _generate(
    model: Pix2Pix, data: FrameSet, poses: torch.Tensor | None, batch_size: int
) -> torch.Tensor:
    was_training = model.training
    model.eval()
    out = []
    try:
        for start in range(0, len(data), batch_size):
            index = torch.arange(start, min(start + batch_size, len(data)))
            if poses is not None:
                out.append(model.generate(to_float(poses[index].to(model.device))).float())
                continue
            batch = make_batch(data, index, temporal=model.config.temporal, device=model.device)
            prev = None
            if model.config.temporal:  # as at render time: the previous output, not the truth
                prev = model.generate(batch["prev_pose"])
            out.append(model.generate(batch["pose"], prev).float())
    finally:
        model.train(was_training)
    return torch.cat(out)


@torch.no_grad()
def rendered_frames(model: Pix2Pix, scoring: ScoringSet, *, batch_size: int = 8) -> torch.Tensor:
    """What the renderer would show for each frame, ``[N, 3, R, R]`` in ``[0, 1]`` at the
    frames' resolution."""
    frames = scoring.frames
    same = scoring.model_resolution == frames.resolution
    with torch.no_grad():
        out = _generate(model, frames, None if same else scoring.poses, batch_size)
    if not same:
        size = (frames.resolution, frames.resolution)
        out = F.interpolate(out, size=size, mode="bilinear", align_corners=False)
    rgb = to_unit(out[:, :3])
    if out.shape[1] == 3:
        return rgb
    alpha = ((out[:, 3:] + 1.0) * 0.5).clamp(0.0, 1.0)
    plate = scoring.plates.to(rgb.device).float() / 255.0
    known = scoring.plate_known.to(rgb.device)[:, None, None, None]
    return torch.where(known, alpha * rgb + (1.0 - alpha) * plate, rgb)


def evaluate(
    model: Pix2Pix, held_out: FrameSet | ScoringSet, *, batch_size: int = 8
) -> dict[str, float]:
    """SSIM / MS-SSIM / PSNR of the rendered frames on the full frame and on the dancer's
    region (``region_*``)."""
    scoring = held_out if isinstance(held_out, ScoringSet) else ScoringSet.of(held_out, model)
    fake = rendered_frames(model, scoring, batch_size=batch_size)
    frames = scoring.frames
    real = frames.images.to(fake.device).float() / 255.0
    scores = quality(fake, real)
    scores.update({f"region_{k}": v for k, v in region_quality(fake, real, frames.boxes).items()})
    values = torch.stack(list(scores.values())).tolist()  # the one read from the device
    return dict(zip(scores, values, strict=True))
