"""Synthetic standing skeletons with a known floor position and height, for tests."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from protocol.skeleton import KP

# (dx, dy) of each joint as fractions of the height, from the ankle midpoint, y up negative.
_SHAPE = {
    "nose": (0.0, -1.0),
    "left_eye": (0.02, -1.0),
    "right_eye": (-0.02, -1.0),
    "left_ear": (0.04, -1.0),
    "right_ear": (-0.04, -1.0),
    "left_shoulder": (0.12, -0.82),
    "right_shoulder": (-0.12, -0.82),
    "left_elbow": (0.16, -0.64),
    "right_elbow": (-0.16, -0.64),
    "left_wrist": (0.18, -0.48),
    "right_wrist": (-0.18, -0.48),
    "left_hip": (0.08, -0.52),
    "right_hip": (-0.08, -0.52),
    "left_knee": (0.08, -0.27),
    "right_knee": (-0.08, -0.27),
    "left_ankle": (0.08, 0.0),
    "right_ankle": (-0.08, 0.0),
}


def standing(x: float, ankle_y: float, height: float) -> npt.NDArray[np.float32]:
    """One ``[17, 3]`` pose: ankle midpoint at (x, ankle_y), head at ankle_y - height."""
    out = np.zeros((17, 3), dtype=np.float32)
    for name, (dx, dy) in _SHAPE.items():
        out[KP[name]] = (x + dx * height, ankle_y + dy * height, 0.95)
    return out


def walk(xs: npt.ArrayLike, ys: npt.ArrayLike, heights: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """A ``[T, 17, 3]`` sequence of standing poses."""
    return np.stack(
        [standing(float(x), float(y), float(h)) for x, y, h in zip(xs, ys, heights, strict=True)]
    )
