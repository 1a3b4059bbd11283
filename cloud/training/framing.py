"""The dancer's framing: one square window of a capture, chosen once per clip.

Training crops every frame of a visitor's clip to it (and draws pose maps in its
pixels); rendering maps the normalised reference dance into the same window, so the
generator sees poses where it learnt them. One definition serves both, torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from common.posemap import DEFAULT_MIN_CONF

MIN_JOINTS = 5  # fewer confident joints in a whole clip: nobody was framed


class FramingError(ValueError):
    """No dancer to frame."""


@dataclass(frozen=True)
class Framing:
    """A square window ``[x0, x0 + size) x [y0, y0 + size)`` of the capture, in pixels."""

    x0: int
    y0: int
    size: int

    @classmethod
    def around(
        cls,
        keypoints: npt.ArrayLike,
        width: int,
        height: int,
        *,
        pad: float = 0.25,
        min_conf: float = DEFAULT_MIN_CONF,
    ) -> Framing:
        """The one square of a clip (keypoints ``[..., 3]`` of all its frames): the union
        of confident in-image joints, padded by ``pad`` of its longer side on each side
        (head and feet reach past the joints), slid inside the image where it fits."""
        kps = np.asarray(keypoints, dtype=np.float32).reshape(-1, 3)
        ok = (kps[:, 2] >= min_conf) & np.isfinite(kps).all(axis=1)
        ok &= (kps[:, 0] >= 0) & (kps[:, 0] < width) & (kps[:, 1] >= 0) & (kps[:, 1] < height)
        if ok.sum() < MIN_JOINTS:
            raise FramingError(
                "no confident keypoints in the clip: was anyone in front of the camera?"
            )
        lo, hi = kps[ok, :2].min(axis=0), kps[ok, :2].max(axis=0)
        side = float((hi - lo).max()) * (1 + 2 * pad)
        size = round(min(max(side, 32.0), max(width, height)))
        cx, cy = (lo + hi) / 2
        x0, y0 = round(float(cx) - size / 2), round(float(cy) - size / 2)
        # Slide the square inside the image where it fits, so edges are replicated rarely.
        if size <= width:
            x0 = min(max(x0, 0), width - size)
        if size <= height:
            y0 = min(max(y0, 0), height - size)
        return cls(x0, y0, size)

    def to_pixels(self, keypoints: npt.ArrayLike, resolution: int) -> npt.NDArray[np.float32]:
        """``[..., 3]`` capture-pixel keypoints -> pixels of the resized ``resolution`` square."""
        out = np.array(keypoints, dtype=np.float32, copy=True)
        scale = resolution / self.size
        out[..., 0] = (out[..., 0] - self.x0 + 0.5) * scale - 0.5
        out[..., 1] = (out[..., 1] - self.y0 + 0.5) * scale - 0.5
        return out

    def apply(self, image: npt.NDArray[np.uint8], resolution: int) -> npt.NDArray[np.uint8]:
        """Cut the window out of an image (replicating edges where it leaves the image)
        and resize it to the ``resolution`` square."""
        h, w = image.shape[:2]
        top, left = max(0, -self.y0), max(0, -self.x0)
        bottom = max(0, self.y0 + self.size - h)
        right = max(0, self.x0 + self.size - w)
        if top or left or bottom or right:
            image = np.asarray(
                cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_REPLICATE),
                np.uint8,
            )
        y0, x0 = self.y0 + top, self.x0 + left
        window = image[y0 : y0 + self.size, x0 : x0 + self.size]
        interp = cv2.INTER_AREA if self.size > resolution else cv2.INTER_LINEAR
        return np.asarray(
            cv2.resize(window, (resolution, resolution), interpolation=interp), np.uint8
        )
