"""Pose maps: COCO-17 keypoints drawn as coloured limbs and joints.

One drawing for every place a skeleton is shown or learned from: the node's preview
overlay, the generator's input in training, and rendering. Torch-free (numpy + OpenCV).
"""

from __future__ import annotations

import colorsys
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from protocol.skeleton import LIMBS, NUM_KEYPOINTS


def _palette(n: int, value: float) -> tuple[tuple[int, int, int], ...]:
    # Evenly spaced hues, so every limb is distinguishable to the generator (BGR order).
    out = []
    for i in range(n):
        r, g, b = colorsys.hsv_to_rgb(i / n, 1.0, value)
        out.append((round(b * 255), round(g * 255), round(r * 255)))
    return tuple(out)


LIMB_COLORS: Final = _palette(len(LIMBS), 1.0)
JOINT_COLORS: Final = _palette(NUM_KEYPOINTS, 0.85)
DEFAULT_MIN_CONF: Final = 0.2

# Sub-pixel precision for cv2 drawing: coordinates are scaled by 2**SHIFT.
_SHIFT: Final = 4


def line_thickness(width: int, height: int) -> int:
    """Limb thickness for an image size: about 1/40 of the shorter side at 128-512 px."""
    return max(1, round(min(width, height) / 40))


def draw_pose(
    canvas: npt.NDArray[np.uint8],
    keypoints: npt.ArrayLike,
    *,
    min_conf: float = DEFAULT_MIN_CONF,
    thickness: int | None = None,
) -> npt.NDArray[np.uint8]:
    """Draw ``[17, 3]`` keypoints (x, y, confidence in ``canvas`` pixels) onto ``canvas``.

    Joints below ``min_conf`` and the limbs touching them are left out. Returns ``canvas``.
    """
    kps = np.asarray(keypoints, dtype=np.float32)
    if kps.shape != (NUM_KEYPOINTS, 3):
        raise ValueError(f"expected [{NUM_KEYPOINTS}, 3] keypoints, got {kps.shape}")
    h, w = canvas.shape[:2]
    t = thickness or line_thickness(w, h)
    seen = (kps[:, 2] >= min_conf) & np.isfinite(kps).all(axis=1)
    pts = np.round(np.nan_to_num(kps[:, :2]) * (1 << _SHIFT)).astype(np.int64)
    pts = np.clip(pts, -(1 << 28), 1 << 28)
    for (a, b), color in zip(LIMBS, LIMB_COLORS, strict=True):
        if seen[a] and seen[b]:
            pa, pb = (int(pts[a, 0]), int(pts[a, 1])), (int(pts[b, 0]), int(pts[b, 1]))
            cv2.line(canvas, pa, pb, color, t, cv2.LINE_AA, _SHIFT)
    radius = max(1, round(t * 0.8)) << _SHIFT
    for j in np.flatnonzero(seen):
        center = (int(pts[j, 0]), int(pts[j, 1]))
        cv2.circle(canvas, center, radius, JOINT_COLORS[j], -1, cv2.LINE_AA, _SHIFT)
    return canvas


def pose_map(
    keypoints: npt.ArrayLike, width: int, height: int, *, min_conf: float = DEFAULT_MIN_CONF
) -> npt.NDArray[np.uint8]:
    """A black ``height x width x 3`` (BGR) image with the skeleton drawn on it."""
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    return draw_pose(canvas, keypoints, min_conf=min_conf)
