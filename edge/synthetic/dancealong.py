"""A visitor dancing along with a reference on the stage screen, imperfectly.

Real people imitate late and loosely. :func:`dance_along` turns the reference's
choreography into the one a visitor actually dances, deterministic per seed:

- **reaction lag** of 150-400 ms that drifts (a bounded random walk), so the visitor
  dances the reference's pose of ``t - lag(t)``;
- **amplitude** 0.6-1.1x the reference's departure from the relaxed stance, per visitor,
  wandering slowly within that range;
- **skipped and simplified moves**: stretches of 1-2.5 s where the visitor only
  half-does the move (a third to a half of its amplitude) or lets it go (holds the
  stance), eased in and out;
- **their own sway**: hips and shoulders rocking at their own 0.3-0.7 Hz, a few cm
  sideways, whatever the reference does;
- **the wrong arm** now and then: a mirror image (left and right arm swapped) for a
  stretch, as a mirrored screen makes people do.

The result is a dense :class:`~edge.synthetic.choreography.Choreography` (a keyframe
every 1/30 s), so it plugs into :class:`~edge.synthetic.visitor.Performance` like any
other dance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.synthetic.body import DOF, NEUTRAL
from edge.synthetic.choreography import Choreography

Array = npt.NDArray[np.float64]
_RATE = 30.0  # keyframes per second of the imitation
_ARMS = ("sh_abd", "sh_flex", "sh_twist", "elbow")
_SIDE_FREE = ("root_x", "root_z", "yaw")  # where the visitor stands is their own


@dataclass(frozen=True)
class Imitation:
    """How one visitor imitates: the ranges :func:`dance_along` draws from."""

    lag_s: tuple[float, float] = (0.15, 0.40)
    amplitude: tuple[float, float] = (0.6, 1.1)
    skip_share: float = 0.15  # of the time spent skipping or simplifying
    wrong_arm_share: float = 0.08  # of the time with the arms mirrored
    sway_m: tuple[float, float] = (0.02, 0.05)  # sideways sway amplitude
    sway_hz: tuple[float, float] = (0.3, 0.7)

    def __post_init__(self) -> None:
        lo, hi = self.lag_s
        if not 0 <= lo <= hi <= 2.0:
            raise ValueError(f"lag range {self.lag_s} must be 0 <= low <= high <= 2 s")
        lo, hi = self.amplitude
        if not 0 < lo <= hi <= 2.0:
            raise ValueError(f"amplitude range {self.amplitude} must be 0 < low <= high <= 2")
        for name in ("skip_share", "wrong_arm_share"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")


def _walk(rng: np.random.Generator, n: int, lo: float, hi: float, step: float) -> Array:
    """A random walk over ``n`` samples kept inside [lo, hi] by reflection, smoothed."""
    out = np.empty(n)
    value = rng.uniform(lo, hi)
    for i, s in enumerate(rng.normal(0.0, step, n)):
        value += s
        if value < lo:
            value = 2 * lo - value
        if value > hi:
            value = 2 * hi - value
        out[i] = min(max(value, lo), hi)
    kernel = np.hanning(int(_RATE) + 1)
    padded = np.pad(out, len(kernel) // 2, mode="edge")
    return np.convolve(padded, kernel / kernel.sum(), mode="valid")[:n]


def _stretches(
    rng: np.random.Generator, t: Array, share: float, length: tuple[float, float]
) -> Array:
    """A 0-1 envelope over ``t`` that is 1 in random stretches covering about ``share``
    of the time, with 0.2 s ramps in and out."""
    env = np.zeros(len(t))
    if share <= 0 or len(t) == 0:
        return env
    end = float(t[-1])
    mean_len = sum(length) / 2
    for _ in range(rng.poisson(share * end / mean_len) if end > 0 else 0):
        start, span = rng.uniform(0.0, end), rng.uniform(*length)
        ramp = np.clip(np.minimum(t - start, start + span - t) / 0.2, 0.0, 1.0)
        env = np.maximum(env, ramp)
    return env


def _mirror_arms(poses: Array) -> Array:
    out = poses.copy()
    for dof in _ARMS:
        left, right = DOF[f"l_{dof}"], DOF[f"r_{dof}"]
        out[:, left], out[:, right] = poses[:, right], poses[:, left]
    return out


def dance_along(
    reference: Choreography, seed: int, duration_s: float, imitation: Imitation | None = None
) -> Choreography:
    """What visitor ``seed`` dances for ``duration_s`` while ``reference`` plays."""
    if duration_s <= 0:
        raise ValueError(f"duration must be positive, got {duration_s}")
    if seed < 0:
        raise ValueError(f"seeds are integers >= 0, got {seed}")
    how = imitation or Imitation()
    rng = np.random.default_rng([seed, 0xDA1A])
    t = np.arange(int(np.ceil(duration_s * _RATE)) + 2) / _RATE
    n = len(t)
    lag = _walk(rng, n, *how.lag_s, step=0.02)
    amp = _walk(rng, n, *how.amplitude, step=0.01)
    wanted = reference.sample(np.maximum(t - lag, 0.0))
    mirrored = _mirror_arms(wanted)
    arms = _stretches(rng, t, how.wrong_arm_share, (1.0, 2.0))[:, None]
    wanted = wanted * (1 - arms) + mirrored * arms
    # Half the stretches skip the move (keep none of it), half simplify it (keep a
    # third to a half of it).
    skipped = _stretches(rng, t, how.skip_share / 2, (1.0, 2.5))
    simplified = _stretches(rng, t, how.skip_share / 2, (1.0, 2.5))
    keep = np.minimum(1 - skipped, 1 - simplified * (1 - rng.uniform(0.33, 0.5)))
    scale = (amp * keep)[:, None]
    poses = NEUTRAL + (wanted - NEUTRAL) * scale
    free = [DOF[name] for name in _SIDE_FREE]
    poses[:, free] = wanted[:, free]  # where they stand and face is the reference's
    sway_m, sway_hz = rng.uniform(*how.sway_m), rng.uniform(*how.sway_hz)
    phase = 2 * np.pi * sway_hz * t + rng.uniform(0, 2 * np.pi)
    poses[:, DOF["root_x"]] += sway_m * np.sin(phase)
    poses[:, DOF["pelvis_roll"]] += 0.04 * np.sin(phase)
    poses[:, DOF["torso_roll"]] -= 0.03 * np.sin(phase)
    for name in ("l_elbow", "r_elbow", "l_knee", "r_knee"):
        poses[:, DOF[name]] = np.maximum(poses[:, DOF[name]], 0.0)
    return Choreography(t, poses, reference.bpm)
