"""The dancer's head for the renderer: neck, face (eyes and mouth when it faces the
camera) and hair in four styles. Hair is a shell offset to the back of the head, so
depth sorting alone puts it behind the face, or over it when the dancer turns away."""

from __future__ import annotations

import math

import cv2
import numpy as np

from edge.frames import Image
from edge.synthetic.appearance import Appearance
from edge.synthetic.body import BodyShape
from edge.synthetic.camera import Camera
from edge.synthetic.paint import COVER, SHIFT, Part, lighten, pt, shade
from edge.synthetic.rotation import Array
from protocol.skeleton import KP


def head_parts(
    camera: Camera, shape: BodyShape, look: Appearance, rot: Array, joints: Array
) -> list[Part]:
    """Parts of the head posed by ``rot`` (its orientation) and world ``joints [21, 3]``."""
    r = shape.head_r
    centre = (joints[KP["left_ear"]] + joints[KP["right_ear"]]) / 2 + rot @ [0, 0, 0.05 * r]
    c = camera.project(centre)
    scale = camera.focal / max(float(c[2]), 1e-3)
    up = camera.project(centre + rot @ [0, r, 0]) - c
    angle = math.degrees(math.atan2(float(up[0]), float(-up[1])))
    to_cam = np.array([0.0, camera.eye_height, camera.distance]) - centre
    facing = float(rot[:, 2] @ (to_cam / np.linalg.norm(to_cam)))
    parts = [
        _neck(camera, shape, look, joints, centre, rot),
        _face(c, r * scale, angle, facing, look, camera, centre, rot, r),
    ]
    parts += _hair(camera, look, centre, rot, r, angle)
    return parts


def _ellipse(
    img: Image, centre: Array, axes: tuple[float, float], angle: float, colour: tuple[int, int, int]
) -> None:
    ax = (max(1, round(axes[0] * (1 << SHIFT))), max(1, round(axes[1] * (1 << SHIFT))))
    cv2.ellipse(img, pt(centre), ax, angle, 0, 360, colour, -1, cv2.LINE_AA, SHIFT)


def _neck(
    camera: Camera, shape: BodyShape, look: Appearance, joints: Array, centre: Array, rot: Array
) -> Part:
    base = (joints[KP["left_shoulder"]] + joints[KP["right_shoulder"]]) / 2
    top = centre - rot @ [0, 0.5 * shape.head_r, 0.1 * shape.head_r]
    a, b = camera.project(base), camera.project(top)
    width = max(1, round(0.9 * shape.head_r * camera.focal / float(a[2])))
    colour = shade(look.skin, 0.85)  # the neck sits in the chin's shadow

    def draw(img: Image) -> None:
        cv2.line(img, pt(a), pt(b), colour, width, cv2.LINE_AA, SHIFT)

    def cover(img: Image) -> None:
        cv2.line(img, pt(a), pt(b), COVER, width, cv2.LINE_AA, SHIFT)

    return Part(float(a[2] + b[2]) / 2 + 0.02, draw, cover)


def _face(
    c: Array,
    radius: float,
    angle: float,
    facing: float,
    look: Appearance,
    camera: Camera,
    centre: Array,
    rot: Array,
    r: float,
) -> Part:
    features = []
    if facing > 0.25:  # eyes and mouth only when the face is toward the camera
        for dx in (-0.33, 0.33):
            features.append(camera.project(centre + rot @ [dx * r, 0.12 * r, 0.9 * r]))
        mouth = camera.project(centre + rot @ [0.0, -0.45 * r, 0.85 * r])
    eye_r = max(0.6, 0.11 * radius)
    fringe = None
    if facing > -0.2 and look.hair_style != "shaved":
        fringe = camera.project(centre + rot @ [0.0, 0.42 * r, 0.25 * r])

    def fringe_draw(img: Image, colour: tuple[int, int, int]) -> None:
        if fringe is not None:  # hair over the forehead, seen from the front
            cv2.ellipse(
                img,
                pt(fringe),
                (max(1, round(radius * 0.93 * 16)), max(1, round(radius * 0.62 * 16))),
                angle,
                180,
                360,
                colour,
                -1,
                cv2.LINE_AA,
                SHIFT,
            )

    def cover(img: Image) -> None:
        _ellipse(img, c, (radius * 0.95, radius * 1.12), angle, (COVER, COVER, COVER))
        fringe_draw(img, (COVER, COVER, COVER))

    def draw(img: Image) -> None:
        _ellipse(img, c, (radius * 0.95, radius * 1.12), angle, shade(look.skin, 0.6))
        _ellipse(img, c, (radius * 0.9, radius * 1.07), angle, look.skin)
        hl = c[:2] + np.array([-0.25, -0.3]) * radius
        _ellipse(img, hl, (radius * 0.45, radius * 0.5), angle, lighten(look.skin, 0.12))
        fringe_draw(img, look.hair)
        for e in features:
            _ellipse(img, e, (eye_r, eye_r), 0, (30, 25, 25))
        if features:
            w = max(1, round(radius * 0.08))
            d = np.array([radius * 0.22, 0.0])
            cv2.line(
                img,
                pt(mouth[:2] - d),
                pt(mouth[:2] + d),
                shade(look.skin, 0.55),
                w,
                cv2.LINE_AA,
                SHIFT,
            )

    return Part(float(c[2]), draw, cover)


def _hair(
    camera: Camera, look: Appearance, centre: Array, rot: Array, r: float, angle: float
) -> list[Part]:
    style = look.hair_style
    colour = look.hair if style != "shaved" else shade(look.hair, 0.5 * 1.0)
    shells: list[tuple[Array, float]] = []  # (world centre, radius in metres)
    if style == "shaved":
        shells.append((centre + rot @ [0, 0.12 * r, -0.12 * r], 0.96 * r))
    else:
        shells.append((centre + rot @ [0, 0.2 * r, -0.2 * r], 1.0 * r))
    if style == "bun":
        shells.append((centre + rot @ [0, 0.85 * r, -0.55 * r], 0.45 * r))
    parts = []
    for world, radius_m in shells:
        p = camera.project(world)
        rad = radius_m * camera.focal / max(float(p[2]), 1e-3)

        def draw(img: Image, p: Array = p, rad: float = rad) -> None:
            _ellipse(img, p, (rad, rad * 1.05), angle, colour)
            hl = p[:2] + np.array([-0.3, -0.4]) * rad
            _ellipse(img, hl, (rad * 0.35, rad * 0.2), angle, lighten(colour, 0.15))

        def shell(img: Image, p: Array = p, rad: float = rad) -> None:
            _ellipse(img, p, (rad, rad * 1.05), angle, (COVER, COVER, COVER))

        parts.append(Part(float(p[2]), draw, shell))
    if style == "long":  # hair falling down the back to the shoulders
        top = camera.project(centre + rot @ [0, 0.1 * r, -0.45 * r])
        low = camera.project(centre + rot @ [0, -1.7 * r, -0.55 * r])
        width = max(1, round(1.7 * r * camera.focal / float(top[2])))

        def fall(img: Image) -> None:
            cv2.line(img, pt(top), pt(low), colour, width, cv2.LINE_AA, SHIFT)

        def fall_cover(img: Image) -> None:
            cv2.line(img, pt(top), pt(low), COVER, width, cv2.LINE_AA, SHIFT)

        parts.append(Part(float(top[2] + low[2]) / 2, fall, fall_cover))
    return parts
