"""Regions of interest: the rotated square around a person that the landmark model sees.

As in MediaPipe's pose graphs, the ROI is centred on the hip centre, points from the
hips towards a "full body" point above the head (rotated so that direction is up in
the crop), is twice the hip-to-that-point distance across, and is enlarged by 1.25.
Working in pixels (not MediaPipe's normalised coordinates) keeps the square square on
non-square frames, so rotation needs no aspect correction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.frames import Image

FloatArray = npt.NDArray[np.float32]

ROI_SCALE = 1.25
TARGET_ANGLE = math.pi / 2  # the hip -> full-body vector points up in the crop


def normalize_angle(angle: float) -> float:
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


@dataclass(frozen=True)
class RotatedRect:
    """A square in image pixels: centre, side length, rotation (radians, clockwise)."""

    cx: float
    cy: float
    size: float
    angle: float

    @classmethod
    def from_alignment(
        cls, center: npt.ArrayLike, direction: npt.ArrayLike, scale: float = ROI_SCALE
    ) -> RotatedRect:
        """From the hip centre and the full-body point (detector keypoints 0, 1, or the
        landmark model's two auxiliary landmarks)."""
        x0, y0 = (float(v) for v in np.asarray(center)[:2])
        x1, y1 = (float(v) for v in np.asarray(direction)[:2])
        size = 2.0 * math.hypot(x1 - x0, y1 - y0) * scale
        angle = normalize_angle(TARGET_ANGLE - math.atan2(-(y1 - y0), x1 - x0))
        return cls(x0, y0, size, angle)

    def crop_to_image(self, input_size: int) -> FloatArray:
        """2x3 affine matrix from model-input pixels (0..input_size) to image pixels."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        k = self.size / input_size
        half = input_size / 2
        a = np.array([[c * k, -s * k], [s * k, c * k]], dtype=np.float64)
        t = np.array([self.cx, self.cy]) - a @ np.array([half, half])
        return np.hstack([a, t[:, None]]).astype(np.float32)

    def crop(self, image: Image, input_size: int) -> Image:
        """The ROI resampled to ``input_size`` square (outside the frame: black)."""
        out = cv2.warpAffine(
            image,
            self.crop_to_image(input_size),
            (input_size, input_size),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        )
        return np.asarray(out, dtype=np.uint8)

    def project(self, points: FloatArray, input_size: int) -> FloatArray:
        """Model-input pixels ``[N, 2]`` -> image pixels ``[N, 2]``."""
        m = self.crop_to_image(input_size)
        return (points[:, :2] @ m[:, :2].T + m[:, 2]).astype(np.float32)

    def bbox(self) -> FloatArray:
        """Axis-aligned (x0, y0, x1, y1) of the rotated square."""
        c, s = abs(math.cos(self.angle)), abs(math.sin(self.angle))
        half = self.size * (c + s) / 2
        return np.array(
            [self.cx - half, self.cy - half, self.cx + half, self.cy + half], dtype=np.float32
        )
