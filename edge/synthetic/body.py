"""The dancer's 3-D body: proportions, pose parameters (degrees of freedom) and forward
kinematics from them to COCO-17 joints plus heels and foot tips, feet on the floor.

World frame, in metres: x to the camera's right, y up (floor at y = 0), z toward the
camera. A dancer with yaw 0 faces the camera, so the dancer's left is +x. Bones are
fixed-length segments rotated along the kinematic chain, which is what keeps bone
lengths constant in 3-D whatever the choreography does.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Final

import numpy as np
import numpy.typing as npt

from edge.synthetic.rotation import Array, apply, chain, rot_x, rot_y, rot_z
from protocol.skeleton import KP, NUM_KEYPOINTS

# Pose parameters, radians (angles) or metres (root position). Arm and leg angles are
# given for each side in the same sense (raising the arm sideways is +abd on both
# sides); the right side is mirrored in the kinematics.
DOFS: Final[tuple[str, ...]] = (
    "root_x",  # metres, sideways on the floor
    "root_z",  # metres, toward the camera
    "yaw",  # whole-body turn; pi = back to the camera
    "pelvis_roll",  # hip sway, + lifts the dancer's right hip
    "torso_pitch",  # + leans forward
    "torso_roll",  # + bends toward the dancer's left
    "torso_yaw",  # shoulder twist relative to the hips
    "head_pitch",  # + nods down
    "head_yaw",
    "head_roll",
    "l_sh_abd",  # arm raised sideways: 0 hanging, pi/2 horizontal, pi overhead
    "l_sh_flex",  # arm raised forward
    "l_sh_twist",  # turns the elbow's bending plane (+ bends the forearm upward when abducted)
    "l_elbow",  # 0 straight
    "r_sh_abd",
    "r_sh_flex",
    "r_sh_twist",
    "r_elbow",
    "l_hip_flex",  # thigh raised forward
    "l_hip_abd",  # leg out sideways
    "l_knee",  # 0 straight, + bends the shank backward
    "r_hip_flex",
    "r_hip_abd",
    "r_knee",
)
DOF: Final[dict[str, int]] = {name: i for i, name in enumerate(DOFS)}
NUM_DOFS: Final = len(DOFS)

# The relaxed standing pose every move starts from and returns to.
NEUTRAL: Final[npt.NDArray[np.float64]] = np.zeros(NUM_DOFS)
_RELAXED = {
    "l_sh_abd": 0.18,
    "r_sh_abd": 0.18,
    "l_elbow": 0.25,
    "r_elbow": 0.25,
    "l_hip_abd": 0.05,
    "r_hip_abd": 0.05,
    "l_knee": 0.05,
    "r_knee": 0.05,
}
for _name, _value in _RELAXED.items():
    NEUTRAL[DOF[_name]] = _value

# Joints of the 3-D skeleton: COCO-17 then the extras in protocol order.
NUM_JOINTS: Final = NUM_KEYPOINTS + 4
L_HEEL, R_HEEL, L_TOE, R_TOE = range(NUM_KEYPOINTS, NUM_JOINTS)


@dataclass(frozen=True)
class BodyShape:
    """Segment lengths and girths of one dancer, in metres."""

    height: float = 1.75
    hip_half: float = 0.09  # hip joint to pelvis centre
    spine: float = 0.50  # pelvis centre to shoulder midpoint
    shoulder_half: float = 0.185
    head_up: float = 0.20  # shoulder midpoint to the centre of the head
    head_r: float = 0.105
    upper_arm: float = 0.30
    forearm: float = 0.27
    thigh: float = 0.43
    shank: float = 0.43
    ankle_h: float = 0.07
    heel_back: float = 0.06
    toe_len: float = 0.17
    # Girths (radii) used by occlusion and the renderer.
    arm_r: float = 0.045
    leg_r: float = 0.07
    torso_depth: float = 0.12  # half depth of the chest
    waist_half: float = 0.16

    @classmethod
    def from_seed(cls, rng: np.random.Generator) -> BodyShape:
        """A plausible adult: height 1.55-1.95 m, proportions varied by a few percent."""
        height = float(rng.uniform(1.55, 1.95))
        scale = height / cls.height
        base = cls()
        values: dict[str, float] = {}
        for f in fields(cls):
            if f.name == "height":
                continue
            jitter = 0.10 if f.name in ("arm_r", "leg_r", "torso_depth", "waist_half") else 0.04
            values[f.name] = (
                getattr(base, f.name) * scale * float(rng.uniform(1 - jitter, 1 + jitter))
            )
        return replace(base, height=height, **values)

    def bone_lengths(self) -> dict[tuple[int, int], float]:
        """3-D length of every limb of the COCO skeleton that is a rigid bone."""
        return {
            (KP["left_shoulder"], KP["left_elbow"]): self.upper_arm,
            (KP["right_shoulder"], KP["right_elbow"]): self.upper_arm,
            (KP["left_elbow"], KP["left_wrist"]): self.forearm,
            (KP["right_elbow"], KP["right_wrist"]): self.forearm,
            (KP["left_hip"], KP["left_knee"]): self.thigh,
            (KP["right_hip"], KP["right_knee"]): self.thigh,
            (KP["left_knee"], KP["left_ankle"]): self.shank,
            (KP["right_knee"], KP["right_ankle"]): self.shank,
            (KP["left_shoulder"], KP["right_shoulder"]): 2 * self.shoulder_half,
            (KP["left_hip"], KP["right_hip"]): 2 * self.hip_half,
        }


@dataclass(frozen=True)
class Posed:
    """A body posed over time: joints ``[T, 21, 3]`` and the frames the renderer needs."""

    joints: Array
    torso: Array  # [T, 3, 3] chest orientation
    pelvis: Array  # [T, 3, 3]
    head: Array  # [T, 3, 3]


def _side(sign: float, abd: Array, flex: Array, twist: Array) -> Array:
    # The right side is the left mirrored in x: rot_z and rot_y angles change sign.
    return chain(rot_z(sign * abd), rot_x(-flex), rot_y(sign * twist))


def pose(shape: BodyShape, dofs: npt.ArrayLike) -> Posed:
    """Forward kinematics of ``[T, NUM_DOFS]`` pose parameters, lowest foot point on y=0."""
    q = np.atleast_2d(np.asarray(dofs, dtype=np.float64))
    if q.shape[1] != NUM_DOFS:
        raise ValueError(f"expected [T, {NUM_DOFS}] pose parameters, got {q.shape}")
    n = q.shape[0]
    d = {name: q[:, i] for i, name in enumerate(DOFS)}
    out = np.zeros((n, NUM_JOINTS, 3))
    root = np.stack([d["root_x"], np.zeros(n), d["root_z"]], axis=1)
    body = rot_y(d["yaw"])
    pelvis = chain(body, rot_z(-d["pelvis_roll"]))
    torso = chain(pelvis, rot_y(d["torso_yaw"]), rot_x(d["torso_pitch"]), rot_z(-d["torso_roll"]))
    neck = root + apply(torso, [0.0, shape.spine, 0.0])
    head = chain(torso, rot_y(d["head_yaw"]), rot_x(d["head_pitch"]), rot_z(-d["head_roll"]))
    head_c = neck + apply(head, [0.0, shape.head_up, 0.01 * shape.height])
    r = shape.head_r
    face = {
        "nose": (0.0, -0.1 * r, 0.95 * r),
        "left_eye": (0.3 * r, 0.25 * r, 0.8 * r),
        "right_eye": (-0.3 * r, 0.25 * r, 0.8 * r),
        "left_ear": (0.72 * r, 0.05 * r, -0.05 * r),
        "right_ear": (-0.72 * r, 0.05 * r, -0.05 * r),
    }
    for name, offset in face.items():
        out[:, KP[name]] = head_c + apply(head, offset)
    for sign, side in ((1.0, "left"), (-1.0, "right")):
        p = side[0]
        sh = neck + apply(torso, [sign * shape.shoulder_half, 0.0, 0.0])
        upper = chain(torso, _side(sign, d[f"{p}_sh_abd"], d[f"{p}_sh_flex"], d[f"{p}_sh_twist"]))
        elbow = sh + apply(upper, [0.0, -shape.upper_arm, 0.0])
        wrist = elbow + apply(chain(upper, rot_x(-d[f"{p}_elbow"])), [0.0, -shape.forearm, 0.0])
        hip = root + apply(pelvis, [sign * shape.hip_half, 0.0, 0.0])
        thigh = chain(pelvis, _side(sign, d[f"{p}_hip_abd"], d[f"{p}_hip_flex"], np.zeros(n)))
        knee = hip + apply(thigh, [0.0, -shape.thigh, 0.0])
        shank = chain(thigh, rot_x(d[f"{p}_knee"]))
        ankle = knee + apply(shank, [0.0, -shape.shank, 0.0])
        # The foot stays nearly level (dancers plant it), pointing its toe a little as
        # the shank swings back, and turned out slightly.
        tilt = np.clip(0.5 * (d[f"{p}_knee"] - d[f"{p}_hip_flex"]), -0.3, 1.0)
        foot = chain(pelvis, rot_y(sign * 0.15), rot_x(tilt))
        heel = ankle + apply(foot, [0.0, -shape.ankle_h, -shape.heel_back])
        toe = ankle + apply(foot, [0.0, -shape.ankle_h, shape.toe_len])
        for joint, value in (
            (f"{side}_shoulder", sh),
            (f"{side}_elbow", elbow),
            (f"{side}_wrist", wrist),
            (f"{side}_hip", hip),
            (f"{side}_knee", knee),
            (f"{side}_ankle", ankle),
        ):
            out[:, KP[joint]] = value
        out[:, L_HEEL if sign > 0 else R_HEEL] = heel
        out[:, L_TOE if sign > 0 else R_TOE] = toe
    # Gravity: drop (or lift) the whole body so its lowest foot point touches the floor.
    floor = out[:, L_HEEL:, 1].min(axis=1)
    out[:, :, 1] -= floor[:, None]
    return Posed(joints=out, torso=torso, pelvis=pelvis, head=head)
