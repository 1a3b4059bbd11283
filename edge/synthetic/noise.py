"""Pose-estimator-like noise on ground-truth keypoints: jitter, outliers, dropout bursts
with low confidence, left/right swaps and a spread of confidences.

Rates are per joint per frame (outliers, dropout starts) or per frame (swaps); sizes
are fractions of the torso length in the frame, so noise scales with the dancer's
size on screen. :meth:`NoiseModel.stream` is the online form (one frame at a time,
used by the ``replay`` pose backend); :meth:`NoiseModel.apply` runs that same stream
over a whole sequence, so both give identical numbers for the same seed.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.frames import Keypoints
from protocol.skeleton import EXTRA_FLIP, FLIP, KP, NUM_KEYPOINTS, torso_length

Rate = Annotated[float, Field(ge=0.0, le=1.0)]
# Heels and foot tips ride on their ankle: they drop out together with it.
_EXTRA_ANKLE = (KP["left_ankle"], KP["right_ankle"], KP["left_ankle"], KP["right_ankle"])


class NoiseModel(BaseModel):
    """How a pose estimator errs. Defaults resemble a decent CPU model on a booth camera."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    jitter: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.02, description="std of Gaussian x/y jitter, as a fraction of the torso length"
    )
    outlier_rate: Rate = Field(0.01, description="chance per joint per frame of a wild guess")
    outlier_scale: Annotated[float, Field(gt=0.0, le=5.0)] = Field(
        0.6, description="outlier displacement, 0.5-1.5 x this fraction of the torso length"
    )
    dropout_rate: Rate = Field(
        0.004, description="chance per joint per frame that a dropout burst starts"
    )
    dropout_frames: Annotated[float, Field(ge=1.0, le=1000.0)] = Field(
        8.0, description="mean length of a dropout burst in frames (geometric)"
    )
    dropout_confidence: Rate = Field(0.15, description="confidence during a dropout: 0 to this")
    swap_rate: Rate = Field(0.005, description="chance per frame that left and right swap")
    confidence: Rate = Field(0.85, description="mean confidence of a joint seen well")
    confidence_spread: Annotated[float, Field(ge=0.0, le=0.5)] = Field(
        0.06, description="std of that confidence"
    )
    hidden_confidence: Rate = Field(
        0.3, description="confidence of a joint the truth marks not visible: 0 to this"
    )

    def stream(self, seed: int) -> NoiseStream:
        """A stateful per-frame noise source: ``stream(truth [17, 3]) -> [17, 3]``."""
        return NoiseStream(self, seed)

    def apply(self, truth: Keypoints, seed: int) -> Keypoints:
        """Noisy ``[T, 17, 3]`` (x, y, confidence) from truth ``[T, 17, 3]`` (x, y, visibility)."""
        arr = np.asarray(truth, dtype=np.float32)
        if arr.ndim != 3 or arr.shape[1:] != (NUM_KEYPOINTS, 3):
            raise ValueError(f"expected truth [T, {NUM_KEYPOINTS}, 3], got {arr.shape}")
        s = self.stream(seed)
        return np.stack([s(frame) for frame in arr]) if len(arr) else arr.copy()


class NoiseStream:
    """Noise for one sequence, frame by frame. Keeps dropout bursts running across frames.

    Call it with each frame's truth; then, optionally, :meth:`extras` with that frame's
    foot extras so they share the frame's swap and their ankle's dropout.
    """

    def __init__(self, model: NoiseModel, seed: int) -> None:
        if seed < 0:
            raise ValueError(f"noise seeds are integers >= 0, got {seed}")
        self.model = model
        self.rng = np.random.default_rng([seed, 0x0153])
        self.remaining = np.zeros(NUM_KEYPOINTS, dtype=np.int64)  # frames left in a dropout
        self.scale = 50.0  # last torso length in pixels (until a frame shows one)
        self.swapped = False
        self.dropped = np.zeros(NUM_KEYPOINTS, dtype=bool)

    def __call__(self, truth: Keypoints) -> Keypoints:
        t = np.asarray(truth, dtype=np.float64)
        if t.shape != (NUM_KEYPOINTS, 3):
            raise ValueError(f"expected truth [{NUM_KEYPOINTS}, 3], got {t.shape}")
        if not np.isfinite(t).all():
            raise ValueError("truth keypoints must be finite")
        m, rng = self.model, self.rng
        torso = torso_length(t)
        if torso >= 1.0:
            self.scale = torso
        out = t.copy()
        out[:, :2] += rng.normal(0.0, m.jitter * self.scale, (NUM_KEYPOINTS, 2))
        conf = np.clip(rng.normal(m.confidence, m.confidence_spread, NUM_KEYPOINTS), 0.0, 1.0)
        outlier = rng.random(NUM_KEYPOINTS) < m.outlier_rate
        out[outlier, :2] += self._offsets(int(outlier.sum()), m.outlier_scale)
        # Bursts: a joint not already lost may start one, of geometric length.
        start = (self.remaining == 0) & (rng.random(NUM_KEYPOINTS) < m.dropout_rate)
        self.remaining[start] = rng.geometric(1.0 / m.dropout_frames, int(start.sum()))
        self.dropped = self.remaining > 0
        self.remaining[self.dropped] -= 1
        out[self.dropped, :2] += self._offsets(int(self.dropped.sum()), 0.3)
        conf[self.dropped] = rng.uniform(0.0, m.dropout_confidence, int(self.dropped.sum()))
        hidden = (t[:, 2] < 0.5) & ~self.dropped
        conf[hidden] = rng.uniform(0.0, m.hidden_confidence, int(hidden.sum()))
        out[:, 2] = conf
        self.swapped = bool(rng.random() < m.swap_rate)
        if self.swapped:
            out = out[list(FLIP)]
        return out.astype(np.float32)

    def extras(self, truth_extras: Keypoints) -> Keypoints:
        """Noisy heels/foot tips ``[4, 3]`` for the frame last passed to the stream."""
        t = np.asarray(truth_extras, dtype=np.float64)
        if t.shape != (len(_EXTRA_ANKLE), 3):
            raise ValueError(f"expected extras [{len(_EXTRA_ANKLE)}, 3], got {t.shape}")
        m, rng = self.model, self.rng
        out = t.copy()
        out[:, :2] += rng.normal(0.0, m.jitter * self.scale, (len(t), 2))
        conf = np.clip(rng.normal(m.confidence, m.confidence_spread, len(t)), 0.0, 1.0)
        dropped = self.dropped[list(_EXTRA_ANKLE)]
        conf[dropped] = rng.uniform(0.0, m.dropout_confidence, int(dropped.sum()))
        hidden = (t[:, 2] < 0.5) & ~dropped
        conf[hidden] = rng.uniform(0.0, m.hidden_confidence, int(hidden.sum()))
        out[:, 2] = conf
        if self.swapped:
            out = out[list(EXTRA_FLIP)]
        return out.astype(np.float32)

    def _offsets(self, n: int, fraction: float) -> np.ndarray:
        # Random directions, lengths 0.5-1.5 x fraction of the torso length.
        angle = self.rng.uniform(0.0, 2 * np.pi, n)
        length = self.rng.uniform(0.5, 1.5, n) * fraction * self.scale
        return np.stack([np.cos(angle), np.sin(angle)], axis=1) * length[:, None]
