"""A captured frame as it moves through a node: pixels, timing and, for synthetic
sources, the ground-truth keypoints."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from protocol.masks import Mask
from protocol.skeleton import Keypoints

__all__ = ["Frame", "Image", "Keypoints", "Mask"]

Image = npt.NDArray[np.uint8]  # H x W x 3, BGR (OpenCV order)


@dataclass
class Frame:
    seq: int
    capture_ns: int
    image: Image
    # Known keypoints for sources that have them (synthetic dancer, recorded file):
    # the `replay` pose backend reads these instead of running a model.
    truth: Keypoints | None = None
    truth_extras: Keypoints | None = None
    # The exact person mask of a synthetic frame (protocol.masks), for the `replay` backend.
    truth_mask: Mask | None = None
    # Other people's known keypoints ([17 or 21, 3] each), for replaying crowded scenes.
    truth_others: list[Keypoints] | None = None

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])
