"""Choreography: pose keyframes in time, smoothly interpolated into pose parameters.

A choreography is a list of keyframes (seconds, full pose vector). Sampling uses a
Catmull-Rom (cubic Hermite) spline per degree of freedom, so motion is smooth at any
frame rate and the same dance can be sampled at 25, 30 or 60 fps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.synthetic.body import DOF, NEUTRAL, NUM_DOFS
from edge.synthetic.rotation import Array

# Joint ranges the spline must not overshoot (a knee never bends forward).
_NONNEGATIVE = [DOF[n] for n in ("l_elbow", "r_elbow", "l_knee", "r_knee")]
_CARRIED = ("root_x", "root_z", "yaw")  # where the dancer is stays put between moves


@dataclass(frozen=True)
class Choreography:
    """Keyframes ``times [K]`` (s, increasing), ``poses [K, NUM_DOFS]``; ``bpm`` if on a beat."""

    times: Array
    poses: Array
    bpm: float | None = None

    def __post_init__(self) -> None:
        if self.poses.shape != (len(self.times), NUM_DOFS) or len(self.times) < 2:
            raise ValueError(f"need >= 2 keyframes of {NUM_DOFS} values, got {self.poses.shape}")
        if np.any(np.diff(self.times) <= 0):
            raise ValueError("keyframe times must increase strictly")

    @property
    def duration(self) -> float:
        return float(self.times[-1])

    def sample(self, t: npt.ArrayLike) -> Array:
        """Pose parameters ``[T, NUM_DOFS]`` at times ``t`` (held at the ends)."""
        tt = np.clip(np.asarray(t, dtype=np.float64), self.times[0], self.times[-1])
        k = np.clip(np.searchsorted(self.times, tt, side="right") - 1, 0, len(self.times) - 2)
        t0, t1 = self.times[k], self.times[k + 1]
        h = (t1 - t0)[:, None]
        s = ((tt - t0) / (t1 - t0))[:, None]
        m = _tangents(self.times, self.poses)
        s2, s3 = s * s, s * s * s
        out = (
            (2 * s3 - 3 * s2 + 1) * self.poses[k]
            + (s3 - 2 * s2 + s) * h * m[k]
            + (-2 * s3 + 3 * s2) * self.poses[k + 1]
            + (s3 - s2) * h * m[k + 1]
        )
        out[:, _NONNEGATIVE] = np.maximum(out[:, _NONNEGATIVE], 0.0)
        return out


def _tangents(times: Array, poses: Array) -> Array:
    # Catmull-Rom for uneven spacing; zero velocity at the first and last keyframe.
    m = np.zeros_like(poses)
    m[1:-1] = (poses[2:] - poses[:-2]) / (times[2:] - times[:-2])[:, None]
    return m


class KeyframeBuilder:
    """Accumulates keyframes given as partial pose dicts over the neutral pose.

    Root position and yaw carry over from the previous keyframe unless set, so a
    move that steps to the side leaves the dancer there for the next move.
    """

    def __init__(self) -> None:
        self.times: list[float] = []
        self.poses: list[Array] = []
        self.carry = {name: 0.0 for name in _CARRIED}

    @property
    def end(self) -> float:
        return self.times[-1] if self.times else 0.0

    def add(self, t: float, values: Mapping[str, float]) -> None:
        unknown = set(values) - set(DOF)
        if unknown:
            raise ValueError(f"unknown pose parameters: {sorted(unknown)}")
        if self.times and t <= self.times[-1] + 1e-6:
            raise ValueError(f"keyframe at {t:.3f}s is not after {self.times[-1]:.3f}s")
        q = NEUTRAL.copy()
        for name in _CARRIED:
            self.carry[name] = float(values.get(name, self.carry[name]))
            q[DOF[name]] = self.carry[name]
        for name, value in values.items():
            q[DOF[name]] = value
        self.times.append(float(t))
        self.poses.append(q)

    def extend(self, start: float, keys: Iterable[tuple[float, Mapping[str, float]]]) -> None:
        for dt, values in keys:
            if start + dt > self.end + 1e-6 or not self.times:
                self.add(start + dt, values)

    def build(self, bpm: float | None = None) -> Choreography:
        return Choreography(np.asarray(self.times), np.stack(self.poses), bpm)
