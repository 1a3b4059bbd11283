"""Online filters measured against the One Euro filter on the same repaired keypoints
(``dancebooth bench edge smoothing --compare``): the choice of the node's filter rests
on this table.

- **One Euro** at the node's settings (what :class:`~edge.smoothing.KeypointPipeline` runs);
- **constant-acceleration Kalman** per joint and axis: state (position, velocity,
  acceleration), white jerk as process noise; measurement noise from the confidence;
- **learned FIR**: the output is the newest position plus a weighted sum of the
  last ``taps`` positions' differences to it, weights fitted by least squares to
  the truth on synthetic visitors the benchmark never scores (a causal linear filter
  that is exact on a still joint, whatever it learns).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache

import numpy as np
import numpy.typing as npt

from edge.settings import SmoothingSettings

FloatArray = npt.NDArray[np.float64]
_TRAIN_SEED = 900  # synthetic visitors 900.. train the FIR: never a benchmark seed
_TRAIN_VISITORS = 4


def kalman_ca(z: FloatArray, jerk: float, noise: float) -> FloatArray:
    """Filter ``z [T, M]`` (one column per joint coordinate, pixels, one row per frame)
    with a constant-acceleration Kalman filter: jerk spectral density ``jerk`` px²/frame⁵,
    measurement noise ``noise`` px (std)."""
    t_len, m = z.shape
    f = np.array([[1.0, 1.0, 0.5], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]])
    g = np.array([1 / 6, 0.5, 1.0])
    q = jerk * np.outer(g, g)
    r = noise**2
    x = np.zeros((m, 3))
    x[:, 0] = z[0]
    p = np.tile(np.diag([r, 1e4, 1e4]), (m, 1, 1))
    out = np.empty_like(z)
    for t in range(t_len):
        if t:
            x = x @ f.T
            p = f @ p @ f.T + q
        gain = p[:, :, 0] / (p[:, 0, 0] + r)[:, None]
        x = x + gain * (z[t] - x[:, 0])[:, None]
        p = p - gain[:, :, None] * p[:, 0, :][:, None, :]
        out[t] = x[:, 0]
    return out


def _lagged(z: FloatArray, taps: int) -> FloatArray:
    """``[T, M, taps-1]``: ``z[t-k] - z[t]`` for k = 1..taps-1 (edge frames repeated)."""
    padded = np.concatenate([np.repeat(z[:1], taps - 1, axis=0), z])
    t_len = len(z)
    return np.stack(
        [padded[taps - 1 - k : taps - 1 - k + t_len] - z for k in range(1, taps)], axis=-1
    )


def fit_fir(pairs: list[tuple[FloatArray, FloatArray]], taps: int) -> FloatArray:
    """Least-squares weights of the FIR from (repaired ``[T, M]``, truth ``[T, M]``) pairs."""
    a = np.concatenate([_lagged(x, taps).reshape(-1, taps - 1) for x, _ in pairs])
    b = np.concatenate([(y - x).reshape(-1) for x, y in pairs])
    weights, *_ = np.linalg.lstsq(a, b, rcond=None)
    return np.asarray(weights)


def apply_fir(z: FloatArray, weights: FloatArray) -> FloatArray:
    out: FloatArray = z + _lagged(z, len(weights) + 1) @ weights
    return out


@cache
def trained_fir(taps: int, fps: float) -> tuple[float, ...]:
    """The FIR's weights, trained on synthetic visitors 900-903 (cached per process)."""
    from edge.bench.smoothing import online
    from edge.bench.smoothing_sets import synthetic_captures

    pairs = []
    for c in synthetic_captures(_TRAIN_VISITORS, fps, 15.0, 640, 480, _TRAIN_SEED):
        rep = online(c.noisy, fps, SmoothingSettings(), smooth=False).estimate
        t_len = len(rep)
        pairs.append((rep[:, :, :2].reshape(t_len, -1), c.truth[:, :, :2].reshape(t_len, -1)))
    return tuple(float(w) for w in fit_fir(pairs, taps))


Filter = Callable[[FloatArray, float], FloatArray]


def _kalman(jerk: float, noise: float) -> Filter:
    return lambda z, fps: kalman_ca(z, jerk, noise)


def _fir(taps: int) -> Filter:
    return lambda z, fps: apply_fir(z, np.asarray(trained_fir(taps, fps)))


CANDIDATES: dict[str, Filter] = {
    "Kalman CA, jerk 0.05": _kalman(0.05, 2.0),
    "Kalman CA, jerk 0.2": _kalman(0.2, 2.0),
    "Kalman CA, jerk 1": _kalman(1.0, 2.0),
    "learned FIR, 6 taps": _fir(6),
    "learned FIR, 10 taps": _fir(10),
}


def run_candidate(
    name: str, noisy: FloatArray, fps: float, settings: SmoothingSettings
) -> tuple[FloatArray, float]:
    """Repair ``noisy`` online, then filter it with candidate ``name``; the estimate and
    the filter's own numpy CPU time per frame (not comparable with compiled kernels)."""
    from edge.bench.smoothing import online

    rep = online(noisy, fps, settings, smooth=False).estimate
    t_len = len(rep)
    start = time.thread_time()
    z = CANDIDATES[name](rep[:, :, :2].reshape(t_len, -1), fps)
    cpu = (time.thread_time() - start) / max(t_len, 1) * 1e6
    out = rep.copy()
    out[:, :, :2] = z.reshape(t_len, -1, 2)
    return out, cpu
