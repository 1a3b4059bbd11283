"""The pose-estimator interface every backend implements.

A backend turns one :class:`~edge.frames.Frame` into the people it sees, each as
COCO-17 keypoints in image pixels with confidences in [0, 1] and, where the backend
can tell, a person mask (:mod:`protocol.masks`). Choosing which of them
is the dancer (tracking) is done above the backends, so every backend gets it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from edge.frames import Frame, Keypoints, Mask


class PoseError(RuntimeError):
    """A pose backend cannot run; the message says what to install or configure."""


def _no_extras() -> Keypoints:
    return np.zeros((0, 3), dtype=np.float32)


@dataclass
class Person:
    keypoints: Keypoints  # [17, 3] x, y, confidence
    score: float  # the backend's confidence that this is a person
    extras: Keypoints = field(default_factory=_no_extras)  # [0 or 4, 3] heels, foot tips
    # Which pixels are this person: uint8 [h, w] at protocol.masks.mask_shape of the frame,
    # 255 = person. None when the backend has no mask (the node may derive one).
    mask: Mask | None = None

    def bbox(self, min_conf: float = 0.2) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) around the joints seen with at least ``min_conf``."""
        pts = self.keypoints[self.keypoints[:, 2] >= min_conf, :2]
        if len(pts) == 0:
            pts = self.keypoints[:, :2]
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)


class PoseEstimator(ABC):
    """Implementers provide :meth:`estimate`; they may keep state between frames
    (e.g. a region of interest from the previous frame) and must release native
    resources in :meth:`close`."""

    name: ClassVar[str]
    # Whether the constructor takes ``frame_size=(w, h)`` to pick a model for the camera.
    takes_frame_size: ClassVar[bool] = False

    @abstractmethod
    def estimate(self, frame: Frame) -> list[Person]:
        """Every person found in ``frame``, best first (may be empty)."""

    def describe(self) -> str:
        """The backend as the node's status shows it (at most 32 characters)."""
        return self.name

    def reset(self) -> None:  # noqa: B027 - optional hook
        """Forget per-sequence state (called when a new capture starts)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release interpreters, delegates, files."""

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
