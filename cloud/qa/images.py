"""Image scores of a capture: blur and exposure, from a sample of its JPEGs.

Decoding every JPEG of a 15 s, 30 fps capture costs more than the whole QA budget, and
blur or exposure do not change frame to frame, so a few frames spread over the clip are
decoded, at half size in grayscale (libjpeg's DCT scaling: no full-size decode).

**Sharpness** is the variance of the Laplacian over the dancer's box (from the frame's
keypoints, padded), not over the whole image: a plain backdrop would read as blur, a
busy one would hide a blurred dancer. It is divided by the variance of the box's pixel
values, so a dimly lit dancer is not called blurred for having less contrast: what is
left is how much of the contrast sits in fine detail. **Exposure** is the box's mean
grey level and the share of the whole frame's pixels crushed to black or blown to white.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

_DOWNSCALE = 2  # IMREAD_REDUCED_GRAYSCALE_2
_PAD = 0.1  # of the box's height, around the dancer's keypoints
_DARK, _BRIGHT = 8, 247  # grey levels counted as crushed / blown


@dataclass(frozen=True)
class ImageScores:
    samples: int  # JPEGs decoded and measured
    sharpness: float  # median over samples: Laplacian variance / grey variance in the box
    brightness: float  # median mean grey level (0-255) in the dancer's box
    clipped: float  # median share of the frame's pixels crushed or blown


def pick_samples(count: int, samples: int) -> list[int]:
    """``samples`` frame indices spread evenly over ``count`` frames."""
    if count <= 0 or samples <= 0:
        return []
    return sorted({int(i) for i in np.linspace(0, count - 1, min(samples, count)).round()})


def _box(
    kps: npt.NDArray[np.float64] | None, shape: tuple[int, int], min_conf: float
) -> tuple[slice, slice]:
    h, w = shape
    if kps is None:
        return slice(0, h), slice(0, w)
    ok = (kps[:, 2] >= min_conf) & np.isfinite(kps[:, :2]).all(axis=1)
    if ok.sum() < 2:
        return slice(0, h), slice(0, w)
    pts = kps[ok, :2] / _DOWNSCALE
    pad = _PAD * float(np.ptp(pts[:, 1]) + 1.0)
    x0, y0 = np.floor(pts.min(axis=0) - pad).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0) + pad).astype(int)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return slice(0, h), slice(0, w)
    return slice(y0, y1), slice(x0, x1)


def score_images(
    jpegs: Sequence[bytes],
    keypoints: Sequence[npt.ArrayLike | None] | None = None,
    *,
    min_conf: float = 0.3,
) -> ImageScores | None:
    """Score these JPEGs (with each frame's ``[17, 3]`` keypoints if known); None when
    not one of them decodes."""
    sharp, bright, clipped = [], [], []
    for i, jpeg in enumerate(jpegs):
        img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_2)
        if img is None or img.size == 0:
            continue
        kps = None
        if keypoints is not None and keypoints[i] is not None:
            kps = np.asarray(keypoints[i], dtype=np.float64)
        rows, cols = _box(kps, img.shape[:2], min_conf)
        box = img[rows, cols]
        grey_var = float(box.var())
        lap = cv2.Laplacian(box, cv2.CV_32F)
        sharp.append(float(lap.var()) / max(grey_var, 1.0))
        bright.append(float(box.mean()))
        clipped.append(float(((img <= _DARK) | (img >= _BRIGHT)).mean()))
    if not sharp:
        return None
    return ImageScores(
        samples=len(sharp),
        sharpness=float(np.median(sharp)),
        brightness=float(np.median(bright)),
        clipped=float(np.median(clipped)),
    )
