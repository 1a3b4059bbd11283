"""Contact sheets: rows of (pose map | rendered | ground truth) for looking at a model
(a dancer-only model's output composited over the booth, as evaluation scores it)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import torch

from cloud.training.data import FrameSet
from cloud.training.evaluation import ScoringSet, rendered_frames
from cloud.training.model import Pix2Pix


def _hwc(images: torch.Tensor) -> npt.NDArray[np.uint8]:
    return images.cpu().permute(0, 2, 3, 1).mul(255).round().clamp(0, 255).byte().numpy()


def sample_grid(model: Pix2Pix, data: FrameSet, *, rows: int = 4) -> npt.NDArray[np.uint8]:
    """An RGB image: ``rows`` frames spread over ``data``, three columns each."""
    index = np.linspace(0, len(data) - 1, min(rows, len(data))).round().astype(int).tolist()
    # The plate comes from all of ``data``'s frames, not only the few shown.
    scoring = ScoringSet.of(data, model)
    fake = _hwc(rendered_frames(model, scoring)[index])
    subset = data.subset(index)
    pose = _hwc(subset.poses.float() / 255)
    real = _hwc(subset.images.float() / 255)
    gap = np.full((fake.shape[1], 2, 3), 255, np.uint8)
    lines = [
        np.concatenate([pose[i], gap, fake[i], gap, real[i]], axis=1) for i in range(len(index))
    ]
    hgap = np.full((2, lines[0].shape[1], 3), 255, np.uint8)
    out = lines[0]
    for line in lines[1:]:
        out = np.concatenate([out, hgap, line], axis=0)
    return out


def save_png(path: str | Path, rgb: npt.NDArray[np.uint8]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1])):
        raise OSError(f"could not write {path}")
    return path
