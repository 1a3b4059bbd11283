"""The keypoint stage of a node: which person is the dancer, and repair/smoothing of their joints.

Dancer selection is :class:`edge.pose.tracking.DancerTracker`; repair and smoothing
are :class:`edge.smoothing.KeypointPipeline`. The annotator talks to the latter
through :class:`KeypointStage`, so a stage can be swapped (a benchmark's baseline,
a test's known transform) without touching the annotator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from edge.frames import Keypoints
from edge.settings import SmoothingSettings
from edge.smoothing import KeypointPipeline, warm_up
from protocol.codec import FLAG_SMOOTHED


class KeypointStage(Protocol):
    """Per-frame repair/smoothing of one dancer's keypoints, in capture order."""

    def process(
        self, keypoints: Keypoints, extras: Keypoints, t_s: float
    ) -> tuple[Keypoints, Keypoints, int]:
        """``[17,3]`` keypoints and ``[0|4,3]`` extras at time ``t_s`` → repaired ones and
        the bit mask of imputed joints."""
        ...

    def reset(self) -> None:
        """Forget history (a new capture starts)."""
        ...


def sanitize(keypoints: Keypoints, width: int, height: int) -> Keypoints:
    """Keypoints the codec accepts: non-finite joints become unseen, confidences in [0, 1]."""
    kps = np.asarray(keypoints, dtype=np.float32).reshape(-1, 3).copy()
    bad = ~np.isfinite(kps).all(axis=1)
    kps[bad] = 0.0
    kps[:, 2] = np.clip(kps[:, 2], 0.0, 1.0)
    # Far outside the frame is a backend glitch, not a position.
    limit = 4.0 * max(width, height)
    kps[:, :2] = np.clip(kps[:, :2], -limit, limit)
    return kps


# fps of the capture -> (a fresh stage, the packet flags its output earns)
StageFactory = Callable[[float], tuple[KeypointStage, int]]


def smoothing_stages(settings: SmoothingSettings) -> StageFactory:
    """Stages that repair and One-Euro-smooth (``FLAG_SMOOTHED``) with ``settings``.
    Their compiled kernels are loaded (or compiled) here, when a node is set up, so
    its first capture does not wait for them."""
    warm_up()

    def build(fps: float) -> tuple[KeypointStage, int]:
        return KeypointPipeline(settings, fps), FLAG_SMOOTHED

    return build
