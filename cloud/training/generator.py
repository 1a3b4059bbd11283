"""A trained checkpoint as the renderer's ``Generator`` (``cloud.render.generator``).

Pose maps arrive as uint8 BGR ``[B, H, W, 3]`` drawn by :func:`common.posemap.pose_map`
(exactly what training drew, in RGB), frames leave as uint8 BGR. A temporal model is
chained inside the batch and across calls through ``previous``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from cloud.training.batches import to_float, to_unit
from cloud.training.checkpoint import load_checkpoint
from cloud.training.errors import TrainingError
from cloud.training.loop import resolve_device

Images = npt.NDArray[np.uint8]


def _to_tensor(bgr: Images, device: torch.device) -> torch.Tensor:
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    return to_float(torch.from_numpy(rgb).permute(0, 3, 1, 2)).to(device)


def _to_bgr(frames: torch.Tensor) -> Images:
    rgb = to_unit(frames).mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    return np.ascontiguousarray(rgb[..., ::-1])


class CheckpointGenerator:
    """Renders with the generator of a pix2pix checkpoint (booth or fine-tuned)."""

    dancer_only = False

    def __init__(self, checkpoint: str | Path, *, device: str = "auto") -> None:
        ckpt = load_checkpoint(checkpoint)
        self.model = ckpt.build_model().to(resolve_device(device)).eval()
        self.resolution: int = ckpt.config.resolution
        self.temporal: bool = ckpt.config.temporal
        self.model_version = f"pix2pix-{ckpt.config.resolution}-{ckpt.sha256[:12]}"

    @torch.no_grad()
    def generate(self, pose_maps: Images, previous: Images | None) -> Images:
        r = self.resolution
        if pose_maps.ndim != 4 or pose_maps.shape[1:] != (r, r, 3):
            raise TrainingError(f"expected [B, {r}, {r}, 3] pose maps, got {pose_maps.shape}")
        device = self.model.device
        poses = _to_tensor(pose_maps, device)
        if not self.temporal:
            return _to_bgr(self.model.generate(poses))
        prev = None if previous is None else _to_tensor(previous[None], device)
        out = []
        for i in range(poses.shape[0]):  # each frame on the one before it
            prev = self.model.generate(poses[i : i + 1], prev)
            out.append(prev)
        return _to_bgr(torch.cat(out))
