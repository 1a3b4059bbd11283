"""How good a keypoint estimate is against ground truth: position error, acceleration
error (jitter), and lag. Sequences are ``[T, J, >=2]`` (x, y first), in pixels."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from protocol.skeleton import KP

FloatArray = npt.NDArray[np.float64]

_SHOULDERS = [KP["left_shoulder"], KP["right_shoulder"]]
_HIPS = [KP["left_hip"], KP["right_hip"]]


def torso_lengths(truth: npt.ArrayLike) -> FloatArray:
    """Per-frame torso length ``[T]`` (shoulder midpoint to hip midpoint) of ``[T, 17+, 2+]``."""
    t = np.asarray(truth, dtype=np.float64)
    d = t[:, _SHOULDERS, :2].mean(axis=1) - t[:, _HIPS, :2].mean(axis=1)
    lengths: FloatArray = np.hypot(d[:, 0], d[:, 1])
    return lengths


def joint_errors(estimate: npt.ArrayLike, truth: npt.ArrayLike) -> FloatArray:
    """``[T, J]`` distance of each joint from the truth, in % of that frame's torso length.

    The torso length is floored at half the sequence's median: a torso seen end-on (a
    flip, a deep bow) shrinks to a few pixels while the dancer does not, and a few
    such frames would otherwise outweigh the rest of the capture."""
    est, tru = np.asarray(estimate, np.float64), np.asarray(truth, np.float64)
    if est.shape[:2] != tru.shape[:2]:
        raise ValueError(f"estimate {est.shape} and truth {tru.shape} differ in shape")
    d = est[:, :, :2] - tru[:, :, :2]
    torso = torso_lengths(tru)
    if len(torso):
        torso = np.maximum(torso, 0.5 * np.median(torso))
    errors: FloatArray = 100 * np.hypot(d[..., 0], d[..., 1]) / np.maximum(torso, 1e-6)[:, None]
    return errors


def mean_joint_error(
    estimate: npt.ArrayLike, truth: npt.ArrayLike, where: npt.ArrayLike | None = None
) -> float:
    """Mean joint error in % of torso length, over all joints or those ``where`` is True."""
    errors = joint_errors(estimate, truth)
    if where is None:
        return float(errors.mean())
    mask = np.asarray(where, dtype=bool)
    return float(errors[mask].mean()) if mask.any() else float("nan")


def acceleration_error(estimate: npt.ArrayLike, truth: npt.ArrayLike) -> float:
    """Mean ``|Δ² estimate − Δ² truth|`` in pixels per frame²: what jitter looks like."""
    est, tru = np.asarray(estimate, np.float64), np.asarray(truth, np.float64)
    if len(est) < 3:
        return float("nan")
    d = np.diff(est[:, :, :2], 2, axis=0) - np.diff(tru[:, :, :2], 2, axis=0)
    return float(np.hypot(d[..., 0], d[..., 1]).mean())


def lag_frames(estimate: npt.ArrayLike, truth: npt.ArrayLike, max_lag: int = 10) -> float:
    """How many frames ``estimate`` trails ``truth`` (negative: leads), sub-frame.

    The peak of the cross-correlation of the two velocity signals (first differences,
    pooled over joints and axes), refined by a parabola through the peak and its
    neighbours. Velocities make the estimate insensitive to constant offsets.
    """
    est_seq = np.asarray(estimate, np.float64)[:, :, :2]
    tru_seq = np.asarray(truth, np.float64)[:, :, :2]
    est = np.diff(est_seq, axis=0).reshape(len(est_seq) - 1, -1)
    tru = np.diff(tru_seq, axis=0).reshape(len(tru_seq) - 1, -1)
    if est.shape != tru.shape:
        raise ValueError(f"estimate {est_seq.shape} and truth {tru_seq.shape} differ in shape")
    n = len(est)
    max_lag = min(max_lag, n // 4)
    if max_lag < 1:
        return float("nan")
    est -= est.mean(axis=0)
    tru -= tru.mean(axis=0)
    lags = np.arange(-max_lag, max_lag + 1)
    score = np.array([_overlap(est, tru, int(k)) for k in lags])
    i = int(np.argmax(score))
    if 0 < i < len(lags) - 1:
        y0, y1, y2 = score[i - 1], score[i], score[i + 1]
        denom = y0 - 2 * y1 + y2
        shift = 0.5 * (y0 - y2) / denom if denom != 0 else 0.0
        return float(lags[i] + shift)
    return float(lags[i])


def _overlap(est: FloatArray, tru: FloatArray, k: int) -> float:
    """Mean product of ``est[t]`` and ``tru[t - k]`` where both exist."""
    n = len(est)
    if k >= 0:
        return float((est[k:] * tru[: n - k]).sum() / (n - k))
    return float((est[: n + k] * tru[-k:]).sum() / (n + k))
