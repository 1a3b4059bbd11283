"""Real human motion for the smoothing benchmark: motion-capture clips seen by the booth camera.

The clips are DeepMimic's humanoid motions (Peng et al. 2018, retargeted from the CMU
and SFU motion-capture databases) as the ``pybullet`` wheel ships them
(``pybullet_data/data/motions``, zlib licence; see ``motions/README.md`` beside this
file). Each frame holds the root position and one rotation per joint of a 15-link
humanoid; :func:`load_clip` reads one, :func:`forward_kinematics` turns it into
COCO-17 joints plus heels and foot tips in metres, resampled to the booth's frame rate
(rotations interpolated on the sphere, so bones keep their length), and
:func:`observe_clip` puts the dancer on the dance spot facing the booth camera and
returns what the camera sees: ``[T, 21, 3]`` pixels + visibility, exactly like a
synthetic visitor's :meth:`~edge.synthetic.visitor.Performance.observed`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.interpolate import CubicSpline

from edge.synthetic.body import L_HEEL, L_TOE, NUM_JOINTS, R_HEEL, R_TOE, BodyShape, Posed
from edge.synthetic.camera import Camera
from edge.synthetic.view import observe
from protocol.skeleton import KP

FloatArray = npt.NDArray[np.float64]

# The humanoid's geometry (pybullet_data/humanoid/humanoid.urdf, loaded at scale 0.25),
# in its own frame: x forward, y up, z to the dancer's right. Metres.
_S = 0.25
_CHEST = np.array([0.0, 0.944604, 0.0]) * _S  # root (pelvis) to chest joint
_NECK = np.array([0.0, 0.895576, 0.0]) * _S  # chest to neck joint
_HEAD = np.array([0.0, 0.7, 0.0]) * _S  # neck joint to the head's centre
_HIP = np.array([0.0, 0.0, 0.339548]) * _S  # root to the right hip (left: -z)
_THIGH = np.array([0.0, -1.686184, 0.0]) * _S
_SHANK = np.array([0.0, -1.63948, 0.0]) * _S
_SHOULDER = np.array([-0.0962, 0.974, 0.73244]) * _S  # chest to the right shoulder
_UPPER_ARM = np.array([0.0, -1.099152, 0.0]) * _S
_FOREARM = np.array([0.0, -1.035788, 0.0]) * _S
_HEEL = np.array([-0.0435, -0.05, 0.0])  # the foot box's back and front bottom edges
_TOE = np.array([0.1335, -0.05, 0.0])
_HEAD_R = 0.1
# Face points from the head's centre, as the synthetic body places them (x forward,
# y up, z right here): nose in front, eyes above it to each side, ears at the sides.
_FACE: Final = {
    "nose": np.array([0.95, -0.1, 0.0]) * _HEAD_R,
    "left_eye": np.array([0.8, 0.25, -0.3]) * _HEAD_R,
    "right_eye": np.array([0.8, 0.25, 0.3]) * _HEAD_R,
    "left_ear": np.array([-0.05, 0.05, -0.72]) * _HEAD_R,
    "right_ear": np.array([-0.05, 0.05, 0.72]) * _HEAD_R,
}

# Columns of a frame: duration, root position (3), then rotations: quaternions (w, x,
# y, z) of the spherical joints, an angle about z for the knees and elbows.
_LAYOUT: Final = (
    ("root", 4), ("chest", 4), ("neck", 4),
    ("right_hip", 4), ("right_knee", 1), ("right_ankle", 4), ("right_shoulder", 4),
    ("right_elbow", 1),
    ("left_hip", 4), ("left_knee", 1), ("left_ankle", 4), ("left_shoulder", 4),
    ("left_elbow", 1),
)  # fmt: skip
_COLUMNS: Final = 4 + sum(n for _, n in _LAYOUT)

# The humanoid's frame to the booth's world frame (x: the dancer's left when facing the
# camera, y up, z toward the camera): forward -> +z, right -> -x.
_TO_WORLD = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])

# The clips in the set; the ones scored and the ones the defaults may be tuned on.
SCORED: Final = ("dance_a", "dance_b", "jump", "spin", "spinkick", "cartwheel", "backflip")
TUNING: Final = ("punch", "kick", "walk", "run")

# Occlusion girths of the humanoid (the synthetic booth's default body, at its height).
SHAPE: Final = replace(
    BodyShape(), height=1.6, shoulder_half=0.183, hip_half=0.085, head_r=0.1, upper_arm=0.275,
    forearm=0.26, thigh=0.42, shank=0.41, spine=0.47,
)  # fmt: skip


class MotionError(ValueError):
    """A motion file that cannot be read as a humanoid clip."""


@dataclass(frozen=True)
class Clip:
    """One motion-capture clip: per-frame durations and joint values, ``[N, 44]``."""

    name: str
    frames: FloatArray

    @property
    def duration_s(self) -> float:
        return float(self.frames[:-1, 0].sum())


def motions_dir() -> Path:
    """Where the clips are (package data of :mod:`edge.bench`)."""
    return Path(str(resources.files("edge.bench") / "motions"))


def load_clip(path: Path, name: str | None = None) -> Clip:
    """Read a DeepMimic motion file (JSON: ``{"Loop": ..., "Frames": [[dt, ...], ...]}``)."""
    try:
        doc = json.loads(Path(path).read_text())
        frames = np.asarray(doc["Frames"], dtype=np.float64)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MotionError(f"{path} is not a readable motion file: {exc}") from None
    if frames.ndim != 2 or frames.shape[1] != _COLUMNS or len(frames) < 2:
        raise MotionError(f"{path}: expected [N >= 2, {_COLUMNS}] frames, got {frames.shape}")
    if not np.isfinite(frames).all() or (frames[:-1, 0] <= 0).any():
        raise MotionError(f"{path}: frames must be finite with positive durations")
    return Clip(name or Path(path).stem.removeprefix("humanoid3d_"), frames)


def load_set(names: tuple[str, ...]) -> list[Clip]:
    """The named clips of the set, in that order."""
    folder = motions_dir()
    return [load_clip(folder / f"humanoid3d_{n}.txt", n) for n in names]


def _quat_matrices(q: FloatArray) -> FloatArray:
    """``[T, 3, 3]`` rotation matrices of ``[T, 4]`` quaternions (w, x, y, z), normalised."""
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], axis=1)  # fmt: skip


def _rot_z(a: FloatArray) -> FloatArray:
    c, s = np.cos(a), np.sin(a)
    out = np.zeros((len(a), 3, 3))
    out[:, 0, 0], out[:, 0, 1], out[:, 1, 0], out[:, 1, 1], out[:, 2, 2] = c, -s, s, c, 1.0
    return out


def resample(clip: Clip, fps: float) -> FloatArray:
    """The clip's joint values at ``fps`` (frames ``[T, 43]``, durations dropped).

    A cubic spline through the recorded frames (quaternions made sign-continuous first,
    renormalised after): its acceleration is continuous, where interpolating frame to
    frame would put a kink at every recorded frame, which no body does and a smoother
    would be blamed for (the backflip is recorded at 16 fps)."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    times = np.concatenate([[0.0], np.cumsum(clip.frames[:-1, 0])])
    values = clip.frames[:, 1:].copy()
    col = 3
    for _, width in _LAYOUT:
        if width == 4:
            q = values[:, col : col + 4]
            for i in range(1, len(q)):
                if (q[i] * q[i - 1]).sum() < 0:
                    q[i] = -q[i]
        col += width
    t = np.arange(0.0, times[-1] + 1e-9, 1.0 / fps)
    out: FloatArray = CubicSpline(times, values, axis=0)(t)
    col = 3
    for _, width in _LAYOUT:
        if width == 4:
            q = out[:, col : col + 4]
            q /= np.linalg.norm(q, axis=1, keepdims=True)
        col += width
    return out


def _rotations(values: FloatArray) -> dict[str, FloatArray]:
    """Each joint's ``[T, 3, 3]`` rotation relative to its parent, from ``[T, 43]``."""
    rot: dict[str, FloatArray] = {}
    col = 3
    for name, width in _LAYOUT:
        v = values[:, col : col + width]
        rot[name] = _quat_matrices(v) if width == 4 else _rot_z(v[:, 0])
        col += width
    return rot


def _booth(r: FloatArray) -> FloatArray:
    """A humanoid-frame orientation as the booth's body frame (x left, y up, z forward)."""
    out: FloatArray = _TO_WORLD @ r @ _TO_WORLD.T
    return out


def forward_kinematics(values: FloatArray) -> Posed:
    """COCO-17 + heels/foot tips ``[T, 21, 3]`` in the booth's world frame (metres), with
    the chest, pelvis and head orientations, from resampled joint values ``[T, 43]``."""
    rot = _rotations(values)
    out = np.zeros((len(values), NUM_JOINTS, 3))
    root_p, root = values[:, :3], rot["root"]
    chest = root @ rot["chest"]
    neck = chest @ rot["neck"]
    chest_p = root_p + root @ _CHEST
    head_c = chest_p + chest @ _NECK + neck @ _HEAD
    for name, offset in _FACE.items():
        out[:, KP[name]] = head_c + neck @ offset
    for side, sign, heel, toe in (("right", 1.0, R_HEEL, R_TOE), ("left", -1.0, L_HEEL, L_TOE)):
        upper = chest @ rot[f"{side}_shoulder"]
        fore = upper @ rot[f"{side}_elbow"]
        thigh = root @ rot[f"{side}_hip"]
        shank = thigh @ rot[f"{side}_knee"]
        foot = shank @ rot[f"{side}_ankle"]
        p = {"shoulder": chest_p + chest @ (_SHOULDER * [1.0, 1.0, sign])}
        p["elbow"] = p["shoulder"] + upper @ _UPPER_ARM
        p["wrist"] = p["elbow"] + fore @ _FOREARM
        p["hip"] = root_p + root @ (_HIP * sign)
        p["knee"] = p["hip"] + thigh @ _THIGH
        p["ankle"] = p["knee"] + shank @ _SHANK
        for joint, where in p.items():
            out[:, KP[f"{side}_{joint}"]] = where
        out[:, heel] = p["ankle"] + foot @ _HEEL
        out[:, toe] = p["ankle"] + foot @ _TOE
    return Posed(
        joints=out @ _TO_WORLD.T, torso=_booth(chest), pelvis=_booth(root), head=_booth(neck)
    )


def place(posed: Posed) -> Posed:
    """On the dance spot: the root's range centred on the origin, feet on the floor at
    their lowest, the dancer turned to face the camera on average. A constant shift and
    turn: the motion itself is untouched."""
    j = posed.joints
    hips = (j[:, KP["left_hip"]] + j[:, KP["right_hip"]]) / 2
    facing = posed.pelvis[:, :, 2].mean(axis=0)  # the body's +z (forward), world
    yaw = np.arctan2(facing[0], facing[2])  # turn it back to +z
    c, s = np.cos(-yaw), np.sin(-yaw)
    turn = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    centre = (hips.min(axis=0) + hips.max(axis=0)) / 2
    joints = (j - centre * np.array([1.0, 0.0, 1.0])) @ turn.T
    joints[..., 1] -= joints[:, L_HEEL:, 1].min()
    return Posed(
        joints=joints, torso=turn @ posed.torso, pelvis=turn @ posed.pelvis, head=turn @ posed.head
    )


def observe_clip(clip: Clip, width: int, height: int, fps: float) -> FloatArray:
    """What the booth camera sees of the clip: ``[T, 21, 3]`` pixels + visibility (0/1)."""
    posed = place(forward_kinematics(resample(clip, fps)))
    seen: FloatArray = observe(posed, SHAPE, Camera(width, height)).astype(np.float64)
    return seen


def clip_truth(name: str, width: int, height: int, fps: float) -> FloatArray:
    """Clip ``name`` of the set as the booth camera sees it (:func:`observe_clip`)."""
    (clip,) = load_set((name,))
    return observe_clip(clip, width, height, fps)
