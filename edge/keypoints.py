"""The keypoint stage of a node: which person is the dancer, and repair/smoothing of their joints.

Repair and smoothing live in :mod:`edge.smoothing`; the node talks to them through
:class:`KeypointStage`, so the pipeline can be swapped (or measured against the raw
backend output) without touching the annotator.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from edge.frames import Keypoints
from edge.pose.base import Person
from protocol.codec import FLAG_SMOOTHED

logger = logging.getLogger(__name__)


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


class RawKeypoints:
    """The backend's keypoints as they are: nothing imputed, nothing smoothed.

    Used when :mod:`edge.smoothing` is not installed, and as the baseline a
    benchmark compares the pipeline with; its packets carry no ``FLAG_SMOOTHED``.
    """

    def process(
        self, keypoints: Keypoints, extras: Keypoints, t_s: float
    ) -> tuple[Keypoints, Keypoints, int]:
        return keypoints, extras, 0

    def reset(self) -> None:
        pass


def smoothing_stages(settings: Any) -> StageFactory:
    """Stages built by :class:`edge.smoothing.KeypointPipeline` from ``settings``,
    or raw keypoints (logged once) where that module is absent."""
    try:
        module = importlib.import_module("edge.smoothing")
        pipeline_cls = module.KeypointPipeline
    except (ImportError, AttributeError) as exc:
        logger.warning("keypoint repair/smoothing unavailable (%s): sending raw keypoints", exc)
        return lambda fps: (RawKeypoints(), 0)

    def build(fps: float) -> tuple[KeypointStage, int]:
        stage: KeypointStage = pipeline_cls(settings, fps)
        return stage, FLAG_SMOOTHED

    return build


class DancerSelector:
    """Which person is the dancer, frame by frame.

    Uses :class:`edge.pose.tracking.DancerTracker` (the person followed from previous
    frames, else the most central and largest) where it is installed; otherwise the
    backend's best person (``people[0]``).
    """

    def __init__(self) -> None:
        try:
            tracking = importlib.import_module("edge.pose.tracking")
            self._tracker: Any = tracking.DancerTracker()
        except (ImportError, AttributeError):
            self._tracker = None

    @property
    def tracking(self) -> bool:
        return self._tracker is not None

    def select(self, people: list[Person], width: int, height: int) -> Person | None:
        if self._tracker is not None:
            person: Person | None = self._tracker.select(people, width, height).person
            return person
        return people[0] if people else None

    def reset(self) -> None:
        if self._tracker is not None:
            self._tracker.reset()
