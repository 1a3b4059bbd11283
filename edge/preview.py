"""The preview: a low-rate, small JPEG of what a camera sees with the dancer's skeleton drawn,
for the booth UI. Made from frames the annotator already holds, at most ``fps`` a second."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import cv2
import numpy as np

from common.posemap import draw_pose
from edge.frames import Frame, Image, Keypoints

logger = logging.getLogger(__name__)

PREVIEW_JPEG_QUALITY = 70


def render_preview(image: Image, keypoints: Keypoints, width: int) -> bytes:
    """``image`` scaled to ``width`` (aspect kept) with the skeleton drawn, as JPEG."""
    h, w = image.shape[:2]
    scale = width / w
    size = (width, max(1, round(h * scale)))
    small = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    kps = np.asarray(keypoints, dtype=np.float32).copy()
    kps[:, :2] *= scale
    draw_pose(small, kps)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, PREVIEW_JPEG_QUALITY])
    if not ok:
        raise RuntimeError("OpenCV could not encode the preview")
    return buf.tobytes()


class Previewer:
    """Rate-limits previews and hands each JPEG to ``publish`` (never blocks the caller long)."""

    def __init__(self, fps: float, width: int, publish: Callable[[bytes], None]) -> None:
        self.interval = 1.0 / fps if fps > 0 else float("inf")
        self.width = width
        self.publish = publish
        self._last = -float("inf")
        self._lock = threading.Lock()
        self.sent = 0

    def __call__(self, frame: Frame, keypoints: Keypoints) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.interval:
                return
            self._last = now
        try:
            self.publish(render_preview(frame.image, keypoints, self.width))
            self.sent += 1
        except Exception:
            logger.exception("preview failed")
