"""Is the clean plate the session's background? A plate with somebody in it, found from
the session's own frames.

The node flags a plate when its pose backend sees somebody in it; this catches what the
backend missed. In each sampled frame the visitor's region (their person mask, dilated;
else the hull of their keypoints) is set aside, and the rest is compared with the plate.
Where the plate differs from the frames' background in most of the frames that show
that spot, the plate does not show the booth as it was: if such a region is large and
compact (a person, a bag, a moved stand), the operator is asked to retake the plate.
The session still renders over it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

WORK_LONG_SIDE: Final = 320
DIFF_THRESHOLD: Final = 30.0  # colour distance after a 5 px blur: JPEG and grain stay under
STALE_SHARE: Final = 0.6  # of the frames showing a pixel, how many must disagree
MIN_SHOWN: Final = 3  # frames that must show a pixel before it is judged
MIN_AREA: Final = 0.004  # of the frame: about a crouching child at the back of the booth
MIN_CONFIDENCE: Final = 0.2

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class SampledFrame:
    image: Image  # H x W x 3 BGR, the camera's size
    mask: Image | None  # the person mask at any size of the frame's aspect, 255 = person
    keypoints: npt.NDArray[np.float32]  # [17, 3] frame pixels


def plate_changes(plate: Image, frames: list[SampledFrame]) -> str | None:
    """Why the plate is not the frames' background (a warning for the operator), or None."""
    h, w = plate.shape[:2]
    scale = min(1.0, WORK_LONG_SIDE / max(w, h))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    base = _work(plate, size)
    stale = np.zeros(size[::-1], np.int32)
    shown = np.zeros(size[::-1], np.int32)
    for frame in frames:
        if frame.image.shape != plate.shape:
            continue
        person = _person(frame, size, scale)
        if person is None:
            continue
        distance = np.sqrt(((_work(frame.image, size) - base) ** 2).sum(axis=2))
        background = ~person
        shown += background
        stale += background & (distance > DIFF_THRESHOLD)
    judged = shown >= MIN_SHOWN
    region = (judged & (stale >= STALE_SHARE * np.maximum(shown, 1))).astype(np.uint8) * 255
    region = np.asarray(
        cv2.morphologyEx(region, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)), np.uint8
    )
    n, _labels, stats, centroids = cv2.connectedComponentsWithStats(region, connectivity=8)
    if n <= 1:
        return None
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    share = float(stats[biggest, cv2.CC_STAT_AREA]) / (size[0] * size[1])
    if share < MIN_AREA:
        return None
    x, y = (centroids[biggest] / scale).round().astype(int)
    return (
        f"the clean plate differs from this session's background over {share:.1%} of the"
        f" frame (around x={x}, y={y}): somebody or something was in it; retake the plate"
        " with the booth empty"
    )


def _work(image: Image, size: tuple[int, int]) -> npt.NDArray[np.float32]:
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.GaussianBlur(small, (5, 5), 0), np.float32)


def _person(
    frame: SampledFrame, size: tuple[int, int], scale: float
) -> npt.NDArray[np.bool_] | None:
    """The visitor's region at the working size, generously dilated; None: unknown."""
    w, h = size
    kps = np.asarray(frame.keypoints, np.float32)
    seen = kps[kps[:, 2] >= MIN_CONFIDENCE, :2] * scale
    height = float(np.ptp(seen[:, 1])) if len(seen) >= 2 else h / 2
    grow = max(2, round(0.06 * height))
    region = np.zeros((h, w), np.uint8)
    if frame.mask is not None and frame.mask.any():
        mask = cv2.resize(frame.mask, size, interpolation=cv2.INTER_LINEAR)
        region = np.where(mask >= 64, 255, 0).astype(np.uint8)
    elif len(seen) < 4:
        return None
    if len(seen) >= 4:
        # The skeleton's surroundings too: the dancer's floor shadow is not in the mask.
        hull = cv2.convexHull(np.round(seen).astype(np.int32))
        around = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(around, hull, 255)
        r = max(2, round(0.3 * height))
        cv2.polylines(around, [hull], True, 255, thickness=2 * r + 1)
        region |= around
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    out: npt.NDArray[np.bool_] = cv2.dilate(region, kernel) > 0
    return out
