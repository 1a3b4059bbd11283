"""BlazePose landmarks: the landmark model's raw outputs turned into image keypoints.

The full landmark model emits 39 landmarks as (x, y, z, visibility, presence) in its
256x256 input's pixels: the 33 body landmarks plus two auxiliary points (hip centre,
full-body point) that place the next frame's region of interest, and 4 more unused
here. Visibility and presence are logits. As in MediaPipe, x/y are refined with the
model's 64x64 heatmaps: a confidence-weighted mean over a 7x7 window around each
landmark, which cuts jitter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.pose.detection import sigmoid
from edge.pose.roi import RotatedRect
from protocol.skeleton import BLAZEPOSE_KEYPOINTS, blazepose_to_coco

FloatArray = npt.NDArray[np.float32]

NUM_MODEL_LANDMARKS = 39
NUM_BODY = len(BLAZEPOSE_KEYPOINTS)  # 33
AUX_HIP_CENTER, AUX_FULL_BODY = 33, 34
REFINE_KERNEL = 7
REFINE_MIN_CONFIDENCE = 0.5


@dataclass
class Landmarks:
    """Decoded landmarks of one person, in image pixels."""

    points: FloatArray  # [39, 2] x, y
    visibility: FloatArray  # [39] in [0, 1]
    presence: FloatArray  # [39] in [0, 1]

    def confidence(self) -> FloatArray:
        """Per-landmark confidence: seen (visibility) and inside the frame (presence)."""
        return np.minimum(self.visibility, self.presence)

    def coco(self) -> tuple[FloatArray, FloatArray]:
        """COCO-17 ``[17, 3]`` and the foot extras ``[4, 3]`` as (x, y, confidence)."""
        body = np.column_stack([self.points[:NUM_BODY], self.confidence()[:NUM_BODY]])
        return blazepose_to_coco(body)

    def next_roi(self) -> RotatedRect:
        """Where this person will be in the next frame (MediaPipe's tracking ROI)."""
        return RotatedRect.from_alignment(self.points[AUX_HIP_CENTER], self.points[AUX_FULL_BODY])


def refine_with_heatmap(xy: FloatArray, heatmap: FloatArray, input_size: int) -> FloatArray:
    """Move each landmark ``[N, 2]`` (model-input pixels) to the confidence-weighted mean of
    its heatmap ``[H, W, >=N]`` (logits) window; landmarks off the map or with a weak
    window stay where they are."""
    hm_h, hm_w = heatmap.shape[:2]
    n = xy.shape[0]
    col = np.floor(xy[:, 0] / input_size * hm_w).astype(np.int64)
    row = np.floor(xy[:, 1] / input_size * hm_h).astype(np.int64)
    inside = (col >= 0) & (col < hm_w) & (row >= 0) & (row < hm_h)
    off = np.arange(REFINE_KERNEL) - REFINE_KERNEL // 2
    rows = row[:, None] + off  # [N, K]
    cols = col[:, None] + off
    valid = ((rows >= 0) & (rows < hm_h))[:, :, None] & ((cols >= 0) & (cols < hm_w))[:, None, :]
    r = np.clip(rows, 0, hm_h - 1)[:, :, None]
    c = np.clip(cols, 0, hm_w - 1)[:, None, :]
    idx = np.arange(n)[:, None, None]
    conf = np.where(valid, sigmoid(heatmap[r, c, idx]), 0.0)  # [N, K, K]
    total = conf.sum(axis=(1, 2))
    ok = inside & (conf.max(axis=(1, 2)) >= REFINE_MIN_CONFIDENCE) & (total > 0)
    safe = np.where(total > 0, total, 1.0)
    # Same convention as MediaPipe: a cell's index over the map size, no half-cell shift.
    mean_c = (conf * cols[:, None, :]).sum(axis=(1, 2)) / safe
    mean_r = (conf * rows[:, :, None]).sum(axis=(1, 2)) / safe
    refined = np.stack([mean_c / hm_w * input_size, mean_r / hm_h * input_size], axis=1)
    return np.where(ok[:, None], refined, xy).astype(np.float32)


def decode_landmarks(
    raw: FloatArray, roi: RotatedRect, input_size: int, heatmap: FloatArray | None = None
) -> Landmarks:
    """Raw ``[1, 195]`` landmark output (+ optional heatmap ``[1, 64, 64, 39]``) -> image."""
    values = np.asarray(raw, dtype=np.float32).reshape(NUM_MODEL_LANDMARKS, -1)
    xy = values[:, :2]
    if heatmap is not None:
        xy = refine_with_heatmap(xy, np.asarray(heatmap, dtype=np.float32)[0], input_size)
    return Landmarks(
        points=roi.project(xy, input_size),
        visibility=sigmoid(values[:, 3]),
        presence=sigmoid(values[:, 4]),
    )
