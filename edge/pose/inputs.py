"""What a backend accepts as a frame: checked before any state changes, so a bad frame
is refused with a clear error and the tracking state survives it."""

from __future__ import annotations

import numpy as np

from edge.frames import Image


def check_image(image: Image) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError(f"frame image must be a uint8 numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 16:
        raise ValueError(f"frame image must be H x W x 3 (BGR, at least 16 px), got {image.shape}")
