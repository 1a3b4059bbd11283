"""Clean-plate differencing: a person mask for pose backends that have no segmentation.

MoveNet and PoseNet report keypoints only. With a clean plate of the booth (an image of
it empty, :mod:`edge.plate`) the dancer is what differs from the plate, near the
skeleton:

1. both images are shrunk to at most :data:`WORK_LONG_SIDE` px (area average), which
   also averages away sensor grain and JPEG noise;
2. a pixel differs when its colour distance to the plate exceeds ``threshold``, unless
   it looks like a shadow on the plate: the same chromaticity, only darker by
   ``SHADOW_DARKEST``..``SHADOW_LIGHTEST``, on the floor (below the ankles): the
   dancer's shadow is background, and the generator is not asked to draw it;
3. only pixels within ``margin`` (a fraction of the skeleton's height) of the convex hull
   of the confident keypoints count: a chair moved or a passer-by in the back is not the
   dancer;
4. an opening removes speckle, a closing joins limbs split by colours close to the
   wall's, holes are filled, and components that no keypoint falls in or next to are
   dropped.

The result is ``uint8`` 0/255 at the frame's size (or ``size``); an empty mask when fewer
than :data:`MIN_JOINTS` keypoints are confident (nobody to cut out).
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from edge.frames import Image, Keypoints

WORK_LONG_SIDE: Final = 640
MIN_JOINTS: Final = 4
MIN_CONFIDENCE: Final = 0.2
# Measured on the synthetic booth at 640x480 and 1280x720 (tests/edge/test_masking.py):
# 24 keeps the wall-coloured shirts, 0.25 of the skeleton's height keeps raised hands.
DEFAULT_THRESHOLD: Final = 24.0
DEFAULT_MARGIN: Final = 0.25
SHADOW_DARKEST: Final = 0.45
SHADOW_LIGHTEST: Final = 0.97
_SHADOW_CHROMA: Final = 0.035  # max distance of normalised (b, g, r) for a shadow

Mask = npt.NDArray[np.uint8]


class PlateMismatchError(ValueError):
    """The plate was taken at another camera size than the frame's: take it again."""


def mask_from_plate(
    frame: Image,
    plate: Image,
    keypoints: Keypoints,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    margin: float = DEFAULT_MARGIN,
    size: tuple[int, int] | None = None,
) -> Mask:
    """The person in ``frame`` (HxWx3 BGR) as 0/255, by differencing with ``plate``.

    ``keypoints`` ([17, 3] pixels + confidence, frame coordinates) say where the person
    is; ``size`` is the ``(width, height)`` of the mask returned (default: the frame's).
    """
    h, w = frame.shape[:2]
    out_w, out_h = size or (w, h)
    if plate.shape != frame.shape:
        raise PlateMismatchError(
            f"clean plate is {plate.shape[1]}x{plate.shape[0]}, the frame {w}x{h}: "
            "retake the plate at the camera's current size"
        )
    kps = np.asarray(keypoints, dtype=np.float32)
    seen = kps[kps[:, 2] >= MIN_CONFIDENCE, :2]
    if len(seen) < MIN_JOINTS:
        return np.zeros((out_h, out_w), np.uint8)
    scale = min(1.0, WORK_LONG_SIDE / max(w, h))
    ww, wh = max(1, round(w * scale)), max(1, round(h * scale))
    pts = seen * np.array([ww / w, wh / h], np.float32)
    height = float(np.ptp(pts[:, 1])) or float(wh) / 4
    near = _near_skeleton(pts, ww, wh, margin * height)
    mask = np.zeros((wh, ww), np.uint8)
    ys, xs = np.nonzero(near.any(axis=1))[0], np.nonzero(near.any(axis=0))[0]
    if len(ys) and len(xs):
        # Only the window around the skeleton is differenced: a fraction of the frame.
        y0, y1, x0, x1 = int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1
        window = (slice(y0, y1), slice(x0, x1))
        small_f = _shrink(frame, ww, wh)[window].astype(np.float32)
        small_p = _shrink(plate, ww, wh)[window].astype(np.float32)
        local = pts - np.array([x0, y0], np.float32)
        floor_y = _floor_line(kps, pts, wh / h) - y0
        differs = _differs(small_f, small_p, threshold, floor_y) & near[window]
        mask[window] = _clean(differs, local, height)
    if (out_w, out_h) == (ww, wh):
        return mask
    big = cv2.resize(mask, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
    return np.where(big >= 128, 255, 0).astype(np.uint8)


def _shrink(img: Image, w: int, h: int) -> Image:
    if img.shape[1] == w and img.shape[0] == h:
        return img
    return np.asarray(cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA), np.uint8)


def _floor_line(kps: Keypoints, pts: npt.NDArray[np.float32], sy: float) -> float:
    """The working-size row above which nothing is taken for a shadow: a little above
    the ankles (the dancer's shadow is on the floor; trousers the wall's colour are not)."""
    height = float(np.ptp(pts[:, 1]))
    ankles = kps[15:17]
    ankles = ankles[ankles[:, 2] >= MIN_CONFIDENCE]
    if len(ankles):
        return float(ankles[:, 1].min()) * sy - 0.04 * height
    return float(pts[:, 1].max()) - 0.1 * height


def _differs(
    frame: npt.NDArray[np.float32],
    plate: npt.NDArray[np.float32],
    threshold: float,
    floor_y: float,
) -> npt.NDArray[np.bool_]:
    distance = np.sqrt(((frame - plate) ** 2).sum(axis=2))
    fsum, psum = frame.sum(axis=2) + 1.0, plate.sum(axis=2) + 1.0
    ratio = fsum / psum
    chroma = np.abs(frame / fsum[..., None] - plate / psum[..., None]).max(axis=2)
    below = (np.arange(frame.shape[0], dtype=np.float32) >= floor_y)[:, None]
    shadow = (
        below & (ratio >= SHADOW_DARKEST) & (ratio <= SHADOW_LIGHTEST) & (chroma <= _SHADOW_CHROMA)
    )
    out: npt.NDArray[np.bool_] = (distance > threshold) & ~shadow
    return out


def _near_skeleton(
    pts: npt.NDArray[np.float32], w: int, h: int, margin_px: float
) -> npt.NDArray[np.bool_]:
    # The hull grown by margin_px: filled, plus its outline drawn 2·margin wide (round
    # caps), which is the hull's Minkowski sum with a disc without a huge kernel.
    hull = cv2.convexHull(np.round(pts).astype(np.int32))
    region = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(region, hull, 255)
    r = max(1, round(margin_px))
    cv2.polylines(region, [hull], True, 255, thickness=2 * r + 1)
    out: npt.NDArray[np.bool_] = region > 0
    return out


def _clean(raw: npt.NDArray[np.bool_], pts: npt.NDArray[np.float32], height: float) -> Mask:
    k = max(3, round(height / 60) | 1)
    ellipse = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    square = cv2.getStructuringElement(cv2.MORPH_RECT, (2, 2))
    opened = cv2.morphologyEx(raw.astype(np.uint8) * 255, cv2.MORPH_OPEN, square)
    mask: Mask = np.asarray(cv2.morphologyEx(opened, cv2.MORPH_CLOSE, ellipse), np.uint8)
    n, labels = cv2.connectedComponents(mask, connectivity=8)
    if n <= 1:
        return mask
    h, w = mask.shape
    keep = np.zeros(n, bool)
    reach = max(2, round(height / 30))
    for x, y in np.round(pts).astype(int):
        y0, y1 = max(0, y - reach), min(h, y + reach + 1)
        x0, x1 = max(0, x - reach), min(w, x + reach + 1)
        if y0 < y1 and x0 < x1:
            keep[np.unique(labels[y0:y1, x0:x1])] = True
    keep[0] = False
    return _fill_holes(np.where(keep[labels], 255, 0).astype(np.uint8))


def _fill_holes(mask: Mask) -> Mask:
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(mask)
    cv2.drawContours(filled, contours, -1, 255, thickness=cv2.FILLED)
    return filled
