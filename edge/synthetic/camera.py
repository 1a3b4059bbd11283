"""The booth camera: a pinhole looking at the dance floor, projecting world metres to
image pixels with depth.

The camera stands on the +z axis looking toward -z, at about chest height and tilted
slightly down, so a 1.55-1.95 m dancer fills most of the frame height and raised
hands of tall dancers can leave it (as they do in a real booth).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.synthetic.rotation import Array


@dataclass(frozen=True)
class Camera:
    width: int
    height: int
    fov_y_deg: float = 40.0
    distance: float = 3.3  # metres from the dance spot (origin) to the lens
    eye_height: float = 1.0
    pitch_deg: float = 3.0  # tilted down

    def __post_init__(self) -> None:
        if self.width < 16 or self.height < 16:
            raise ValueError(f"camera image {self.width}x{self.height} is too small (min 16x16)")

    @property
    def focal(self) -> float:
        """Focal length in pixels (square pixels; the vertical field of view is fixed)."""
        return self.height / (2.0 * math.tan(math.radians(self.fov_y_deg) / 2.0))

    def to_camera(self, points: npt.ArrayLike) -> Array:
        """World points ``[..., 3]`` to camera coordinates (x right, y down, z depth)."""
        p = np.asarray(points, dtype=np.float64)
        x = p[..., 0]
        y = self.eye_height - p[..., 1]
        z = self.distance - p[..., 2]
        a = math.radians(self.pitch_deg)
        # Tilting the camera down by `a` rotates the scene up in its view.
        yc = math.cos(a) * y - math.sin(a) * z
        zc = math.sin(a) * y + math.cos(a) * z
        return np.stack([x, yc, zc], axis=-1)

    def project(self, points: npt.ArrayLike) -> Array:
        """World points ``[..., 3]`` to ``[..., 3]``: pixel x, pixel y, depth in metres."""
        c = self.to_camera(points)
        z = np.maximum(c[..., 2], 1e-3)
        f = self.focal
        u = f * c[..., 0] / z + (self.width - 1) / 2.0
        v = f * c[..., 1] / z + (self.height - 1) / 2.0
        return np.stack([u, v, c[..., 2]], axis=-1)

    def pixels_per_metre(self, depth: npt.ArrayLike) -> Array:
        """Scale of something ``depth`` metres from the lens, in pixels per metre."""
        return self.focal / np.maximum(np.asarray(depth, dtype=np.float64), 1e-3)

    def inside(self, uv: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Whether pixel coordinates ``[..., >=2]`` fall inside the image."""
        p = np.asarray(uv)
        return (
            (p[..., 0] >= 0)
            & (p[..., 0] <= self.width - 1)
            & (p[..., 1] >= 0)
            & (p[..., 1] <= self.height - 1)
        )
