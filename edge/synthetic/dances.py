"""Whole dances as choreographies: beat-aligned routines built from moves (the reference
dances) and irregular free-style dancing (the visitors), both deterministic from a seed."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from edge.synthetic.choreography import Choreography, KeyframeBuilder
from edge.synthetic.moves import MOVES, keyframes, random_stage

# Free-style ranges per parameter: (low, high), drawn independently per keyframe.
_FREESTYLE_RANGES: dict[str, tuple[float, float]] = {
    "l_sh_abd": (0.0, 2.4),
    "r_sh_abd": (0.0, 2.4),
    "l_sh_flex": (-0.3, 1.4),
    "r_sh_flex": (-0.3, 1.4),
    "l_sh_twist": (-0.3, 1.4),
    "r_sh_twist": (-0.3, 1.4),
    "l_elbow": (0.0, 2.0),
    "r_elbow": (0.0, 2.0),
    "pelvis_roll": (-0.12, 0.12),
    "torso_roll": (-0.12, 0.12),
    "torso_yaw": (-0.3, 0.3),
    "torso_pitch": (-0.05, 0.25),
    "head_pitch": (-0.2, 0.25),
    "head_yaw": (-0.4, 0.4),
    "head_roll": (-0.15, 0.15),
}


def routine(seed: int, bpm: float, moves: Sequence[str], *, lead_in_beats: int = 2) -> Choreography:
    """A beat-aligned routine: ``moves`` danced one after another at ``bpm``.

    Each entry is a move name, optionally suffixed ``:l`` / ``:r`` for the active side
    (default: alternating). The seed varies amplitudes and, for unsided entries, sides.
    """
    if not 40 <= bpm <= 220:
        raise ValueError(f"bpm {bpm} is outside 40-220")
    rng = np.random.default_rng(seed)
    beat_s = 60.0 / bpm
    kb = KeyframeBuilder()
    kb.add(0.0, {})
    t = lead_in_beats * beat_s  # stand still for the count-in
    for i, entry in enumerate(moves):
        name, _, side = entry.partition(":")
        side = side or ("l" if (i + int(rng.integers(2))) % 2 else "r")
        stage = random_stage(rng, kb.carry["root_x"], kb.carry["yaw"])
        kb.extend(t, keyframes(name, side, stage, beat_s))
        t += MOVES[name][0] * beat_s
    kb.add(t + 2 * beat_s, {})
    return kb.build(bpm)


def freestyle(seed: int, duration_s: float) -> Choreography:
    """Irregular free-style dancing for at least ``duration_s`` seconds.

    Keyframes come every 0.3-0.9 s (not on a beat), arms and torso drawn freely, with
    knee bounces, occasional leg lifts, wandering across the floor and now and then a
    turn. The keyframe prefix depends only on the seed, so a longer clip of the same
    visitor starts with the same motion.
    """
    rng = np.random.default_rng(seed)
    kb = KeyframeBuilder()
    kb.add(0.0, {})
    t, yaw, x, z = 0.0, 0.0, 0.0, 0.0
    while t < duration_s + 1.0:
        t += float(rng.uniform(0.3, 0.9))
        pose = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in _FREESTYLE_RANGES.items()}
        bounce = float(rng.uniform(0.0, 0.5))
        pose.update(l_knee=bounce, r_knee=bounce, l_hip_flex=bounce * 0.5, r_hip_flex=bounce * 0.5)
        if rng.random() < 0.25:  # lift one leg
            side = "l" if rng.random() < 0.5 else "r"
            pose[f"{side}_hip_flex"] = float(rng.uniform(0.4, 1.0))
            pose[f"{side}_knee"] = float(rng.uniform(0.6, 1.5))
        x = float(np.clip(x + rng.uniform(-0.15, 0.15), -0.45, 0.45))
        z = float(np.clip(z + rng.uniform(-0.1, 0.1), -0.3, 0.3))
        if rng.random() < 0.08:  # a turn, sometimes past the profile view
            yaw += float(rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0) * math.pi)
        elif abs(yaw) > 0 and rng.random() < 0.5:  # and back to face the camera
            yaw = 2 * math.pi * round(yaw / (2 * math.pi))
        pose.update(root_x=x, root_z=z, yaw=yaw)
        kb.add(t, pose)
    return kb.build()
