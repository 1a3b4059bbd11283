"""Pose fidelity: does the generated person do the pose they were asked to do?

Everybody Dance Now's "pose distance", without ground truth: the booth's own pose
estimator (BlazePose, :mod:`common.pose_check`) is run on rendered frames and its joints
are compared with the keypoints that drove the generator (the normalised reference, in
generator pixels). Errors are in **torso units** (shoulder midpoint to hip midpoint of
the driving pose), so they read the same at 128 and 256 px and for a small or tall
visitor.

A generator draws a person whose front and back can look alike; the estimator may then
swap left and right. That is not the generator's fault, so each frame is scored as
drawn and mirrored (joints swapped by :data:`protocol.skeleton.FLIP`) and the better
of the two counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from protocol.skeleton import FLIP, KP, NUM_KEYPOINTS, torso_length

Keypoints = npt.NDArray[np.float32]

PARTS: Final[dict[str, tuple[int, ...]]] = {
    "head": tuple(KP[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")),
    "torso": tuple(KP[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")),
    "arms": tuple(KP[n] for n in ("left_elbow", "right_elbow", "left_wrist", "right_wrist")),
    "legs": tuple(KP[n] for n in ("left_knee", "right_knee", "left_ankle", "right_ankle")),
}
LIMB_ENDS: Final = PARTS["arms"] + PARTS["legs"]
MIN_DRIVING_CONF = 0.3  # a driving joint below this was imputed; it is not scored
MIN_TORSO_PX = 2.0  # a driving torso shorter than this cannot be a unit


@dataclass(frozen=True)
class PoseFidelity:
    """Per rendition; ``frame_errors`` is NaN where nobody was found or nothing scored."""

    frames: int
    missing: float  # share of frames without a person
    mean_error: float  # torso units, over frames with a person (NaN if none)
    parts: dict[str, float]  # mean error per body part, torso units
    limbs_off: float  # share of frames with a person and a limb end beyond the threshold
    limb_threshold: float
    frame_errors: tuple[float, ...] = field(default=())

    def report(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "missing": self.missing,
            "mean_error": _finite(self.mean_error),
            "parts": {k: _finite(v) for k, v in self.parts.items()},
            "limbs_off": self.limbs_off,
            "limb_threshold": self.limb_threshold,
            "frame_errors": [_finite(e) for e in self.frame_errors],
        }

    def worst_frames(self, count: int) -> list[int]:
        """Indices of the ``count`` worst frames: nobody found first, then the largest error."""
        key = [math.inf if math.isnan(e) else e for e in self.frame_errors]
        return sorted(range(len(key)), key=lambda i: -key[i])[:count]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def torso_size(kps: Keypoints) -> float:
    """Shoulder midpoint to hip midpoint, in pixels (NaN if the driving torso is unusable)."""
    size = torso_length(kps)
    return size if size >= MIN_TORSO_PX else math.nan


def joint_errors(driving: Keypoints, detected: Keypoints) -> npt.NDArray[np.float64]:
    """``[17]`` errors in torso units (NaN for unscored joints), the better of the
    detected pose as drawn and mirrored."""
    unit = torso_size(driving)
    scored = driving[:, 2] >= MIN_DRIVING_CONF
    if math.isnan(unit) or not scored.any():
        return np.full(NUM_KEYPOINTS, np.nan)
    best: npt.NDArray[np.float64] | None = None
    for det in (detected, detected[list(FLIP)]):
        err = np.linalg.norm(det[:, :2] - driving[:, :2], axis=1).astype(np.float64) / unit
        err[~scored] = np.nan
        if best is None or np.nanmean(err) < np.nanmean(best):
            best = err
    assert best is not None
    return best


def pose_fidelity(
    driving: npt.ArrayLike, detected: Sequence[Keypoints | None], limb_threshold: float = 0.5
) -> PoseFidelity:
    """Compare ``[N, 17, 3]`` driving keypoints with what the estimator found per frame."""
    drv = np.asarray(driving, dtype=np.float32)
    if drv.ndim != 3 or drv.shape[1:] != (NUM_KEYPOINTS, 3):
        raise ValueError(f"driving keypoints must be [N, {NUM_KEYPOINTS}, 3], got {drv.shape}")
    if len(drv) != len(detected):
        raise ValueError(f"{len(drv)} driving poses but {len(detected)} estimates")
    if len(drv) == 0:
        raise ValueError("no frames to check: the rendition has no sampled frames")
    if limb_threshold <= 0:
        raise ValueError(f"limb_threshold is in torso units and positive, got {limb_threshold}")
    rows = []
    for d, k in zip(drv, detected, strict=True):
        rows.append(
            np.full(NUM_KEYPOINTS, np.nan)
            if k is None
            else joint_errors(d, np.asarray(k, np.float32))
        )
    errs = np.stack(rows)  # [N, 17]
    found = np.array([k is not None for k in detected])
    scored = found & ~np.isnan(errs).all(axis=1)
    with np.errstate(invalid="ignore"):
        frame_errors = np.where(scored, _nanmean(errs, axis=1), np.nan)
        parts = {p: _nanmean(errs[scored][:, list(j)]) for p, j in PARTS.items()}
    limb_max = np.nan_to_num(errs[:, list(LIMB_ENDS)], nan=-1.0).max(axis=1)  # unscored: -1
    off = scored & (limb_max > limb_threshold)
    return PoseFidelity(
        frames=len(drv),
        missing=float(1 - found.mean()),
        mean_error=_nanmean(frame_errors[scored]) if scored.any() else math.nan,
        parts=parts,
        limbs_off=float(off.sum() / max(int(scored.sum()), 1)),
        limb_threshold=limb_threshold,
        frame_errors=tuple(float(e) for e in frame_errors),
    )


def _nanmean(a: npt.NDArray[Any], axis: int | None = None) -> Any:
    """``np.nanmean`` without the warning on an all-NaN slice (NaN there)."""
    arr = np.asarray(a, dtype=np.float64)
    count = (~np.isnan(arr)).sum(axis=axis)
    total = np.nansum(arr, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = total / count
    return float(out) if np.ndim(out) == 0 else out
