"""Letterboxing: fit a frame into a model input of another shape without stretching it.

As Coral's camera demos do, the frame is scaled by the one factor that makes it fit,
centred, and the rest of the input is padded black; keypoints found in the input are
mapped back through the padding and the scale. A 16:9 camera fed to a 4:3 model thus
sees people at their true proportions (stretching would squash them 1.33x wide).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.frames import Image

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Letterbox:
    """Where a ``frame_w`` x ``frame_h`` frame lands inside an ``in_w`` x ``in_h`` input."""

    frame_w: int
    frame_h: int
    in_w: int
    in_h: int
    scaled_w: int  # the frame's size inside the input
    scaled_h: int
    pad_x: int  # black columns on the left
    pad_y: int  # black rows on top

    @classmethod
    def fit(cls, frame_w: int, frame_h: int, in_w: int, in_h: int) -> Letterbox:
        scale = min(in_w / frame_w, in_h / frame_h)
        # Rounding may leave one pixel of padding where the aspects match: harmless.
        w = max(1, min(in_w, round(frame_w * scale)))
        h = max(1, min(in_h, round(frame_h * scale)))
        return cls(frame_w, frame_h, in_w, in_h, w, h, (in_w - w) // 2, (in_h - h) // 2)

    @property
    def padded_share(self) -> float:
        """Share of the input that is padding (wasted model capacity)."""
        return 1.0 - (self.scaled_w * self.scaled_h) / (self.in_w * self.in_h)

    def apply(self, image: Image) -> Image:
        """The frame scaled and padded to the input size (same channel order)."""
        if image.shape[1] != self.frame_w or image.shape[0] != self.frame_h:
            raise ValueError(
                f"letterbox made for {self.frame_w}x{self.frame_h}, got {image.shape[1]}x"
                f"{image.shape[0]}"
            )
        scaled = cv2.resize(image, (self.scaled_w, self.scaled_h), interpolation=cv2.INTER_LINEAR)
        if (self.scaled_w, self.scaled_h) == (self.in_w, self.in_h):
            return np.asarray(scaled, dtype=np.uint8)
        out = np.zeros((self.in_h, self.in_w, image.shape[2]), dtype=np.uint8)
        out[self.pad_y : self.pad_y + self.scaled_h, self.pad_x : self.pad_x + self.scaled_w] = (
            scaled
        )
        return out

    def to_frame(self, xy: FloatArray) -> FloatArray:
        """Input pixels ``[..., 2]`` (x, y) -> frame pixels."""
        sx = self.frame_w / self.scaled_w
        sy = self.frame_h / self.scaled_h
        out = np.empty_like(xy, dtype=np.float32)
        out[..., 0] = (xy[..., 0] - self.pad_x) * sx
        out[..., 1] = (xy[..., 1] - self.pad_y) * sy
        return out
