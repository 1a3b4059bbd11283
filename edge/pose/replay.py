"""The ``replay`` pose backend: keypoints the source already knows (a synthetic dancer's
ground truth, a recorded file), passed through a pose-estimator-like noise model, and
the synthetic renderer's exact person mask where the frame carries one.

It runs no model, so it is the backend for demos and tests on machines without a
camera or accelerator, and its errors are known exactly.
"""

from __future__ import annotations

import logging
from typing import ClassVar

import numpy as np

from edge.frames import Frame
from edge.pose.base import Person, PoseError, PoseEstimator
from edge.settings import ReplaySettings
from edge.synthetic.noise import NoiseStream
from protocol.skeleton import NUM_EXTRA_KEYPOINTS, NUM_KEYPOINTS

logger = logging.getLogger(__name__)


class ReplayEstimator(PoseEstimator):
    name: ClassVar[str] = "replay"

    def __init__(self, settings: ReplaySettings) -> None:
        self.settings = settings
        self._captures = 0
        self._stream = self._new_stream()

    def _new_stream(self) -> NoiseStream:
        # Each capture gets its own, reproducible noise: (seed, capture number).
        return self.settings.rates.stream(self.settings.seed * 1_000_003 + self._captures)

    def reset(self) -> None:
        self._captures += 1
        self._stream = self._new_stream()

    def estimate(self, frame: Frame) -> list[Person]:
        truth = frame.truth
        if truth is None:
            raise PoseError(
                "the replay pose backend needs frames with known keypoints (frame.truth); "
                "use the synthetic source (source.type: synthetic) or choose a real backend "
                "(pose.type: blazepose or movenet)"
            )
        truth = np.asarray(truth, dtype=np.float32)
        if truth.shape != (NUM_KEYPOINTS, 3) or not np.isfinite(truth).all():
            raise PoseError(f"frame {frame.seq}: truth must be finite [17, 3], got {truth.shape}")
        if not (truth[:, 2] > 0).any():
            return self._others(frame)  # the dancer out of view (bystanders may not be)
        extras = frame.truth_extras
        if extras is not None and np.asarray(extras).shape != (NUM_EXTRA_KEYPOINTS, 3):
            raise PoseError(f"frame {frame.seq}: truth_extras must be [4, 3]")
        if not self.settings.noise:
            kps = truth.copy()
            out_extras = None if extras is None else np.asarray(extras, dtype=np.float32).copy()
        else:
            kps = self._stream(truth)
            out_extras = None if extras is None else self._stream.extras(extras)
        if out_extras is None:
            out_extras = np.zeros((0, 3), dtype=np.float32)
        score = float(kps[:, 2].mean())
        # The renderer's mask is exact (the dancer's only); noise models keypoint errors.
        dancer = Person(keypoints=kps, score=score, extras=out_extras, mask=frame.truth_mask)
        return [dancer, *self._others(frame)]

    @staticmethod
    def _others(frame: Frame) -> list[Person]:
        """The other people in view, as given (no noise): bystanders for the tracker."""
        out = []
        for other in frame.truth_others or []:
            arr = np.asarray(other, dtype=np.float32)
            if arr.shape not in ((NUM_KEYPOINTS, 3), (NUM_KEYPOINTS + NUM_EXTRA_KEYPOINTS, 3)):
                raise PoseError(f"frame {frame.seq}: truth_others must be [17 or 21, 3] each")
            kps, extras = arr[:NUM_KEYPOINTS].copy(), arr[NUM_KEYPOINTS:].copy()
            out.append(Person(keypoints=kps, score=float(kps[:, 2].mean()), extras=extras))
        return out
