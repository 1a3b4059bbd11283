"""Known trajectories for the repair/smoothing tests: a planar dancing skeleton with
constant bone lengths, and estimator-like noise with a record of what was corrupted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from protocol.skeleton import FLIP, KP, torso_length

FloatArray = npt.NDArray[np.float64]


def dancer(frames: int, fps: float = 30.0, torso: float = 120.0, seed: int = 0) -> FloatArray:
    """``[T, 17, 3]`` keypoints (visibility 1) of a planar skeleton swaying, stepping and
    waving its arms, built joint by joint from angles so every bone keeps its length."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    ph = rng.uniform(0, 2 * np.pi, 8)
    out = np.zeros((frames, 17, 3))
    out[:, :, 2] = 1.0
    hip_c = np.stack(
        [320 + 40 * np.sin(2 * np.pi * 0.5 * t + ph[0]), 330 + 6 * np.sin(4 * np.pi * t)], 1
    )
    lean = 0.15 * np.sin(2 * np.pi * 0.5 * t + ph[1])
    up = np.stack([np.sin(lean), -np.cos(lean)], 1)
    side = np.stack([np.cos(lean), np.sin(lean)], 1)
    sh_c = hip_c + torso * up
    out[:, KP["left_shoulder"], :2] = sh_c + 0.35 * torso * side
    out[:, KP["right_shoulder"], :2] = sh_c - 0.35 * torso * side
    out[:, KP["left_hip"], :2] = hip_c + 0.2 * torso * side
    out[:, KP["right_hip"], :2] = hip_c - 0.2 * torso * side
    out[:, KP["nose"], :2] = sh_c + 0.45 * torso * up
    for eye, ear, s in (("left_eye", "left_ear", 1), ("right_eye", "right_ear", -1)):
        out[:, KP[eye], :2] = out[:, KP["nose"], :2] + 0.08 * torso * (s * side + up)
        out[:, KP[ear], :2] = out[:, KP[eye], :2] + 0.1 * torso * s * side
    for k, (side_name, s) in enumerate((("left", 1), ("right", -1))):
        wave = np.sin(2 * np.pi * 1.0 * t + ph[2 + k])
        a1 = lean + s * (0.6 + 1.1 * (0.5 + 0.5 * wave))  # upper arm angle from down
        a2 = a1 + s * (0.8 + 0.6 * np.sin(2 * np.pi * 2.0 * t + ph[4 + k]))
        sh = out[:, KP[f"{side_name}_shoulder"], :2]
        el = sh + 0.55 * torso * _dir(a1)
        out[:, KP[f"{side_name}_elbow"], :2] = el
        out[:, KP[f"{side_name}_wrist"], :2] = el + 0.5 * torso * _dir(a2)
        step = 0.25 * np.sin(2 * np.pi * 1.0 * t + ph[6] + np.pi * k)
        b1 = s * (0.1 + np.maximum(step, 0))
        b2 = b1 - s * 0.4 * np.maximum(step, 0)
        hip = out[:, KP[f"{side_name}_hip"], :2]
        kn = hip + 0.8 * torso * _dir(b1)
        out[:, KP[f"{side_name}_knee"], :2] = kn
        out[:, KP[f"{side_name}_ankle"], :2] = kn + 0.8 * torso * _dir(b2)
    return out


def _dir(angle: FloatArray) -> FloatArray:
    """Unit vectors at ``angle`` from straight down (positive: towards image +x)."""
    return np.stack([np.sin(angle), np.cos(angle)], 1)


@dataclass
class Noisy:
    seq: FloatArray  # [T, J, 3] x, y, confidence
    dropped: npt.NDArray[np.bool_]  # [T, J] low-confidence frames (displaced positions)
    outliers: npt.NDArray[np.bool_]  # [T, J] confident but far off
    swapped: npt.NDArray[np.bool_]  # [T] frames with left and right swapped


def corrupt(
    truth: FloatArray,
    seed: int = 0,
    jitter: float = 0.02,
    outlier_rate: float = 0.0,
    dropout_rate: float = 0.0,
    burst_frames: int = 8,
    swap_rate: float = 0.0,
) -> Noisy:
    """Estimator-like noise, sizes in torso lengths: Gaussian jitter, confident outliers
    (0.3-0.9 away), low-confidence dropout bursts of ``burst_frames`` (displaced
    0.15-0.45) and single-frame whole-body left/right swaps."""
    rng = np.random.default_rng(seed)
    frames, joints, _ = truth.shape
    torso = float(np.median([torso_length(f) for f in truth]))
    seq = truth.copy()
    seq[:, :, :2] += rng.normal(0, jitter * torso, (frames, joints, 2))
    seq[:, :, 2] = np.clip(rng.normal(0.85, 0.06, (frames, joints)), 0, 1)
    dropped = np.zeros((frames, joints), dtype=bool)
    starts = rng.random((frames, joints)) < dropout_rate
    for f, j in zip(*np.nonzero(starts), strict=True):
        dropped[f : f + burst_frames, j] = True
    seq[dropped, :2] += _offsets(rng, int(dropped.sum()), 0.3 * torso)
    seq[dropped, 2] = rng.uniform(0.0, 0.15, int(dropped.sum()))
    outliers = (rng.random((frames, joints)) < outlier_rate) & ~dropped
    seq[outliers, :2] += _offsets(rng, int(outliers.sum()), 0.6 * torso)
    swapped = rng.random(frames) < swap_rate
    flip = list(FLIP) + list(range(17, joints))
    seq[swapped] = seq[swapped][:, flip]
    return Noisy(seq, dropped, outliers, swapped)


def _offsets(rng: np.random.Generator, n: int, size: float) -> FloatArray:
    angle = rng.uniform(0, 2 * np.pi, n)
    length = rng.uniform(0.5, 1.5, n) * size
    return np.stack([np.cos(angle), np.sin(angle)], 1) * length[:, None]
