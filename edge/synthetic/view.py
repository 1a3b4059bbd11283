"""What the camera sees of a posed body: joints in pixels with visibility.

A joint is visible (1) when it projects inside the image and nothing nearer the
camera covers it: the torso (an elliptic cylinder, so a dancer seen side-on hides the
far shoulder and hip), the limbs (capsules) and the head (a sphere). Face points are
seen only when they face the camera, so a dancer's back hides nose and eyes. The same
body-part shapes are what the renderer draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from edge.synthetic.body import L_HEEL, L_TOE, R_HEEL, R_TOE, BodyShape, Posed
from edge.synthetic.camera import Camera
from edge.synthetic.rotation import Array
from protocol.skeleton import KP

Mask = npt.NDArray[np.bool_]

# Face points: outward normal in the head's frame, and the least cosine with the
# direction to the camera at which the point is still seen (negative: a bit past profile).
_FACE: Final[dict[int, tuple[tuple[float, float, float], float]]] = {
    KP["nose"]: ((0.0, 0.0, 1.0), -0.25),
    KP["left_eye"]: ((0.4, 0.1, 0.9), 0.05),
    KP["right_eye"]: ((-0.4, 0.1, 0.9), 0.05),
    KP["left_ear"]: ((1.0, 0.0, -0.15), -0.25),
    KP["right_ear"]: ((-1.0, 0.0, -0.15), -0.25),
}


@dataclass(frozen=True)
class Capsule:
    a: int
    b: int
    radius: float  # metres


def limb_capsules(shape: BodyShape) -> tuple[Capsule, ...]:
    """The limbs as capsules between joints (also the renderer's limb shapes)."""
    out = []
    for side, heel, toe in (("left", L_HEEL, L_TOE), ("right", R_HEEL, R_TOE)):
        k = {n: KP[f"{side}_{n}"] for n in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")}
        out += [
            Capsule(k["shoulder"], k["elbow"], shape.arm_r),
            Capsule(k["elbow"], k["wrist"], shape.arm_r * 0.8),
            Capsule(k["hip"], k["knee"], shape.leg_r),
            Capsule(k["knee"], k["ankle"], shape.leg_r * 0.72),
            Capsule(heel, toe, shape.ankle_h * 0.55),
        ]
    return tuple(out)


def _own_leg(joint: int) -> set[int]:
    # Heels and foot tips are judged against the other leg only: their own foot
    # always covers them a little, which is not what a pose estimator calls occluded.
    left = {KP["left_knee"], KP["left_ankle"], L_HEEL, L_TOE}
    right = {KP["right_knee"], KP["right_ankle"], R_HEEL, R_TOE}
    if joint in (L_HEEL, L_TOE):
        return left
    if joint in (R_HEEL, R_TOE):
        return right
    return set()


def observe(posed: Posed, shape: BodyShape, camera: Camera) -> Array:
    """``[T, 21, 3]``: pixel x, pixel y and visibility (0/1) of every joint."""
    proj = camera.project(posed.joints)
    visible = camera.inside(proj)
    visible &= _faces_camera(posed, camera)
    visible &= ~_behind_torso(posed, shape, camera, proj)
    visible &= ~_behind_limbs(posed, shape, camera, proj)
    out = proj.copy()
    out[..., 2] = visible
    return out


def camera_position(camera: Camera) -> Array:
    return np.array([0.0, camera.eye_height, camera.distance])


def _faces_camera(posed: Posed, camera: Camera) -> Mask:
    seen = np.ones(posed.joints.shape[:2], dtype=bool)
    to_cam = camera_position(camera) - posed.joints
    to_cam /= np.linalg.norm(to_cam, axis=-1, keepdims=True)
    for j, (normal, min_cos) in _FACE.items():
        n = np.asarray(normal) / np.linalg.norm(normal)
        world_n = posed.head @ n
        seen[:, j] = np.einsum("ti,ti->t", world_n, to_cam[:, j]) > min_cos
    return seen


def _half_extent(rot: Array, lateral: float, depth: float) -> Array:
    # Horizontal extent of an elliptic cross-section seen from the front, in metres.
    return np.sqrt((lateral * rot[:, 0, 0]) ** 2 + (depth * rot[:, 0, 2]) ** 2)


def torso_outline(posed: Posed, shape: BodyShape, camera: Camera) -> tuple[Array, ...]:
    """Torso axis in pixels, hips ``a [T,3]`` to neck ``b [T,3]`` (x, y, depth), and the
    silhouette's half-widths in pixels at the hips ``ha [T]`` and at the shoulders ``hb [T]``."""
    j = posed.joints
    hips = (j[:, KP["left_hip"]] + j[:, KP["right_hip"]]) / 2
    neck = (j[:, KP["left_shoulder"]] + j[:, KP["right_shoulder"]]) / 2
    a, b = camera.project(hips), camera.project(neck)
    ha = _half_extent(posed.pelvis, shape.waist_half, shape.torso_depth * 0.9)
    hb = _half_extent(posed.torso, shape.shoulder_half + 0.3 * shape.arm_r, shape.torso_depth)
    return a, b, ha * camera.pixels_per_metre(a[:, 2]), hb * camera.pixels_per_metre(b[:, 2])


def _segment_param(p: Array, a: Array, b: Array) -> tuple[Array, Array]:
    # p [T, J, 2]; a, b [T, 2] -> position along the segment t and distance from its line.
    ab = (b - a)[:, None, :]
    ap = p - a[:, None, :]
    len2 = np.maximum((ab**2).sum(-1), 1e-9)
    t = (ap * ab).sum(-1) / len2
    perp = np.abs(ap[..., 0] * ab[..., 1] - ap[..., 1] * ab[..., 0]) / np.sqrt(len2)
    return t, perp


def _behind_torso(posed: Posed, shape: BodyShape, camera: Camera, proj: Array) -> Mask:
    a, b, ha, hb = torso_outline(posed, shape, camera)
    t, perp = _segment_param(proj[..., :2], a[:, :2], b[:, :2])
    tc = np.clip(t, 0.0, 1.0)
    half = ha[:, None] + (hb - ha)[:, None] * tc
    tol = shape.arm_r * camera.pixels_per_metre(proj[..., 2])
    depth = a[:, None, 2] + (b - a)[:, None, 2] * tc
    inside = (t > -0.05) & (t < 1.05) & (perp < half - tol)
    return inside & (proj[..., 2] > depth + 0.5 * shape.torso_depth)


def _behind_limbs(posed: Posed, shape: BodyShape, camera: Camera, proj: Array) -> Mask:
    hidden = np.zeros(proj.shape[:2], dtype=bool)
    ears = (proj[:, KP["left_ear"]] + proj[:, KP["right_ear"]]) / 2
    parts = [(proj[:, c.a], proj[:, c.b], c.radius, {c.a, c.b}) for c in limb_capsules(shape)]
    parts.append((ears, ears, shape.head_r, set(_FACE)))
    for pa, pb, radius, own in parts:
        t, _ = _segment_param(proj[..., :2], pa[:, :2], pb[:, :2])
        tc = np.clip(t, 0.0, 1.0)
        closest = pa[:, None, :] + (pb - pa)[:, None, :] * tc[..., None]
        dist = np.linalg.norm(proj[..., :2] - closest[..., :2], axis=-1)
        r_px = radius * camera.pixels_per_metre(closest[..., 2])
        covered = (dist < 0.8 * r_px) & (proj[..., 2] > closest[..., 2] + radius)
        exempt = [j for j in range(proj.shape[1]) if j in own or own & _own_leg(j)]
        covered[:, exempt] = False
        hidden |= covered
    return hidden
