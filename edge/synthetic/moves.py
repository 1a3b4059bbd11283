"""Dance moves: short beat-aligned keyframe patterns (waves, steps, sways, turns).

Each move lasts a whole number of beats and returns keyframes as ``(beat, pose dict)``
relative to its start, beginning and ending near the neutral pose so moves chain
smoothly. Arm and leg parameters are written for the *active* side (``a_``) and the
*other* side (``o_``); :func:`keyframes` maps them to left/right, which is how every
move also exists mirrored.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Key = tuple[float, dict[str, float]]


@dataclass(frozen=True)
class Stage:
    """Where the dancer is when a move starts, and how big the move may be."""

    root_x: float
    yaw: float
    amp: float  # 0.8-1.2 amplitude scale: the same move danced a bit bigger or smaller


MoveFn = Callable[[Stage], list[Key]]


def _sway(s: Stage) -> list[Key]:
    keys: list[Key] = [(0.0, {})]
    for b in (1, 2, 3):
        d = 1.0 if b % 2 else -1.0
        keys.append(
            (
                float(b),
                {
                    "pelvis_roll": 0.14 * d * s.amp,
                    "torso_roll": -0.08 * d * s.amp,
                    "root_x": s.root_x + 0.05 * d,
                    "head_roll": 0.1 * d,
                    "a_sh_abd": 0.45 + 0.2 * d,
                    "o_sh_abd": 0.45 - 0.2 * d,
                    "a_elbow": 0.9,
                    "o_elbow": 0.9,
                    "a_knee": 0.25 - 0.1 * d,
                    "o_knee": 0.25 + 0.1 * d,
                },
            )
        )
    keys.append((4.0, {}))
    return keys


def _arm_wave(s: Stage) -> list[Key]:
    keys: list[Key] = [(0.0, {})]
    for i in range(1, 8):
        up = i % 2 == 1
        keys.append(
            (
                i * 0.5,
                {
                    "a_sh_abd": 1.9 * s.amp + (0.15 if up else -0.15),
                    "a_sh_twist": 1.3,
                    "a_elbow": 0.35 if up else 1.2,
                    "torso_roll": -0.1,
                    "head_yaw": 0.25,
                    "o_sh_abd": 0.3,
                    "o_elbow": 0.6,
                    "pelvis_roll": 0.06 if up else -0.06,
                },
            )
        )
    keys.append((4.0, {}))
    return keys


def _raise_the_roof(s: Stage) -> list[Key]:
    keys: list[Key] = [(0.0, {})]
    for b in (1, 2, 3):
        up = b % 2 == 1
        arm = {"sh_abd": 2.55 * s.amp if up else 2.1, "sh_twist": 1.4, "elbow": 0.25 if up else 1.5}
        pose = {f"{p}_{k}": v for p in ("a", "o") for k, v in arm.items()}
        pose.update(
            a_knee=0.1 if up else 0.45,
            o_knee=0.1 if up else 0.45,
            a_hip_flex=0.0 if up else 0.25,
            o_hip_flex=0.0 if up else 0.25,
        )
        keys.append((float(b), pose))
    keys.append((4.0, {}))
    return keys


def _step_touch(s: Stage) -> list[Key]:
    sign = 1.0 if s.root_x <= 0 else -1.0  # step toward the middle of the floor
    x0, x1 = s.root_x, s.root_x + 0.28 * sign * s.amp
    clap = {"a_sh_flex": 0.75, "o_sh_flex": 0.75, "a_elbow": 1.7, "o_elbow": 1.7}
    return [
        (0.0, {"root_x": x0}),
        (0.5, {"root_x": (x0 + x1) / 2, "a_hip_abd": 0.3, "o_knee": 0.3, "torso_roll": 0.06}),
        (1.0, {"root_x": x1, **clap}),
        (1.5, {"root_x": x1, "o_hip_abd": 0.22, "a_knee": 0.35}),
        (2.0, {"root_x": x1, **clap}),
        (2.5, {"root_x": (x0 + x1) / 2, "o_hip_abd": 0.3, "a_knee": 0.3, "torso_roll": -0.06}),
        (3.0, {"root_x": x0, **clap}),
        (3.5, {"root_x": x0, "a_hip_abd": 0.22, "o_knee": 0.35}),
        (4.0, {"root_x": x0}),
    ]


def _march(s: Stage) -> list[Key]:
    keys: list[Key] = [(0.0, {})]
    for b in (1, 2, 3):
        a, o = ("a", "o") if b % 2 else ("o", "a")
        keys.append((float(b) - 0.5, {}))
        keys.append(
            (
                float(b),
                {
                    f"{a}_hip_flex": 1.05 * s.amp,
                    f"{a}_knee": 1.4,
                    f"{o}_knee": 0.1,
                    f"{o}_sh_flex": 0.8,
                    f"{o}_elbow": 1.3,
                    f"{a}_sh_flex": -0.35,
                    f"{a}_elbow": 0.4,
                    "torso_yaw": 0.15 if b % 2 else -0.15,
                },
            )
        )
    keys.append((4.0, {}))
    return keys


def _spin(s: Stage) -> list[Key]:
    # A full turn over four beats: mid-turn the far arm, shoulder and hip go out of sight.
    arms = {"a_sh_abd": 1.25, "o_sh_abd": 1.25, "a_elbow": 0.5, "o_elbow": 0.5}
    return [(0.0, {"yaw": s.yaw})] + [
        (float(b), {"yaw": s.yaw + b * math.pi / 2, **(arms if b < 4 else {})})
        for b in (1, 2, 3, 4)
    ]


def _back_shake(s: Stage) -> list[Key]:
    # Half turn, shake the hips with the back to the camera (the face is hidden), turn back.
    keys: list[Key] = [(0.0, {"yaw": s.yaw}), (1.0, {"yaw": s.yaw + math.pi, "a_sh_abd": 0.8})]
    for b in (1.5, 2.0, 2.5, 3.0):
        d = 1.0 if b % 1 else -1.0
        arms = {"a_sh_abd": 1.1, "o_sh_abd": 1.1, "a_elbow": 1.2, "o_elbow": 1.2}
        keys.append((b, {"yaw": s.yaw + math.pi, "pelvis_roll": 0.16 * d * s.amp, **arms}))
    keys.append((4.0, {"yaw": s.yaw + 2 * math.pi}))
    return keys


def _squat_pump(s: Stage) -> list[Key]:
    down = {
        "a_hip_flex": 0.75 * s.amp,
        "o_hip_flex": 0.75 * s.amp,
        "a_knee": 1.3 * s.amp,
        "o_knee": 1.3 * s.amp,
        "torso_pitch": 0.35,
        "a_hip_abd": 0.25,
        "o_hip_abd": 0.25,
        "a_sh_flex": 1.3,
        "o_sh_flex": 1.3,
        "a_elbow": 0.3,
        "o_elbow": 0.3,
    }
    return [(0.0, {}), (1.0, down), (2.0, {}), (3.0, down), (4.0, {})]


def _disco_point(s: Stage) -> list[Key]:
    up = {
        "a_sh_abd": 2.35 * s.amp,
        "a_sh_flex": 0.35,
        "a_elbow": 0.05,
        "head_yaw": 0.35,
        "head_pitch": -0.25,
        "o_sh_abd": 0.55,
        "o_elbow": 1.8,
        "pelvis_roll": 0.1,
    }
    down = {
        "a_sh_abd": -0.2,
        "a_sh_flex": 0.7,
        "a_elbow": 0.05,
        "head_yaw": -0.3,
        "head_pitch": 0.2,
        "o_sh_abd": 0.55,
        "o_elbow": 1.8,
        "pelvis_roll": -0.1,
    }
    return [(0.0, {}), (1.0, up), (2.0, down), (3.0, up), (4.0, {})]


def _kick(s: Stage) -> list[Key]:
    kick = {
        "a_hip_flex": 1.15 * s.amp,
        "a_knee": 0.1,
        "o_knee": 0.2,
        "torso_pitch": -0.1,
        "a_sh_abd": 1.1,
        "o_sh_abd": 1.1,
        "a_elbow": 0.3,
        "o_elbow": 0.3,
    }
    chamber = {"a_hip_flex": 0.9, "a_knee": 1.4, "o_knee": 0.2, "a_sh_abd": 0.8, "o_sh_abd": 0.8}
    return [(0.0, {}), (0.5, chamber), (1.0, kick), (1.5, chamber), (2.0, {})]


def _shimmy(s: Stage) -> list[Key]:
    keys: list[Key] = [(0.0, {})]
    for i in range(1, 8):
        d = 1.0 if i % 2 else -1.0
        keys.append(
            (
                i * 0.5,
                {
                    "torso_yaw": 0.35 * d * s.amp,
                    "torso_pitch": 0.12,
                    "a_sh_flex": 0.6,
                    "o_sh_flex": 0.6,
                    "a_elbow": 1.6,
                    "o_elbow": 1.6,
                    "a_knee": 0.3,
                    "o_knee": 0.3,
                    "a_hip_flex": 0.15,
                    "o_hip_flex": 0.15,
                },
            )
        )
    keys.append((4.0, {}))
    return keys


def _slide(s: Stage) -> list[Key]:
    # Glide far toward the leading arm's side, arm stretched out: the hand leaves the view.
    x0 = s.root_x
    reach = {"a_sh_abd": 1.5, "a_elbow": 0.0, "o_sh_abd": 0.5, "o_elbow": 1.2, "torso_roll": 0.12}
    return [
        (0.0, {"root_x": x0}),
        (1.0, {"root_x": x0 + 0.35 * s.amp, "a_hip_abd": 0.3, "o_knee": 0.35, **reach}),
        (2.0, {"root_x": x0 + 0.75 * s.amp, "o_hip_abd": 0.25, **reach}),
        (3.0, {"root_x": x0 + 0.4 * s.amp, "a_knee": 0.3}),
        (4.0, {"root_x": x0}),
    ]


MOVES: dict[str, tuple[int, MoveFn]] = {
    "sway": (4, _sway),
    "arm_wave": (4, _arm_wave),
    "raise_the_roof": (4, _raise_the_roof),
    "step_touch": (4, _step_touch),
    "march": (4, _march),
    "spin": (4, _spin),
    "back_shake": (4, _back_shake),
    "squat_pump": (4, _squat_pump),
    "disco_point": (4, _disco_point),
    "kick": (2, _kick),
    "shimmy": (4, _shimmy),
    "slide": (4, _slide),
}


def keyframes(
    name: str, side: str, stage: Stage, beat_s: float
) -> list[tuple[float, dict[str, float]]]:
    """Keyframes of move ``name`` danced with ``side`` ("l" or "r") active, in seconds."""
    if side not in ("l", "r"):
        raise ValueError(f"side must be 'l' or 'r', not {side!r}")
    if name not in MOVES:
        raise ValueError(f"unknown move {name!r}; known: {', '.join(sorted(MOVES))}")
    other = "r" if side == "l" else "l"
    out = []
    for beat, values in MOVES[name][1](stage):
        pose: dict[str, float] = {}
        for key, v in values.items():
            if key.startswith("a_"):
                pose[side + key[1:]] = v
            elif key.startswith("o_"):
                pose[other + key[1:]] = v
            else:
                pose[key] = v
        # Moves are written for the dancer's left; mirrored, sideways motions flip sign.
        if side == "r":
            for k in ("pelvis_roll", "torso_roll", "torso_yaw", "head_yaw", "head_roll"):
                if k in pose:
                    pose[k] = -pose[k]
            if "yaw" in pose:  # turns go the other way round
                pose["yaw"] = 2 * stage.yaw - pose["yaw"]
            if name == "slide" and "root_x" in pose:  # and slides go the other way
                pose["root_x"] = 2 * stage.root_x - pose["root_x"]
        out.append((beat * beat_s, pose))
    return out


def random_stage(rng: np.random.Generator, root_x: float, yaw: float) -> Stage:
    return Stage(root_x=root_x, yaw=yaw, amp=float(rng.uniform(0.85, 1.15)))
