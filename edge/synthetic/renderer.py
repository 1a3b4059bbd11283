"""The dancer renderer: a posed 3-D body drawn as shaded body parts over the booth's
background plate, nearest part last (painter's algorithm on camera depth), so arms
pass in front of and behind the torso as the dancer turns.

:meth:`Renderer.render_with_mask` also draws the exact person mask: every part's
outline filled on one channel (anti-aliased like the colours), without the floor
shadow, then area-averaged to the mask size of :mod:`protocol.masks`.

Parts are the shapes occlusion is computed with (:mod:`edge.synthetic.view`): limbs
are capsules, the torso an elliptic cylinder, the head a sphere with hair. Each part
is drawn as a dark rim, its colour and a highlight toward the light (upper left),
which reads as rounded at any size from 128 to 512 pixels. Drawing is OpenCV only,
so the same seed gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from edge.frames import Image
from edge.synthetic.appearance import BGR, Appearance
from edge.synthetic.background import background_plate
from edge.synthetic.body import L_HEEL, L_TOE, R_HEEL, R_TOE, BodyShape, Posed
from edge.synthetic.camera import Camera
from edge.synthetic.head import head_parts
from edge.synthetic.paint import COVER, ONE, SHIFT, Draw, Part, lighten, pt, shade
from edge.synthetic.rotation import Array
from protocol.masks import Mask, mask_shape
from protocol.skeleton import KP

MIN_SIZE, MAX_SIZE = 64, 1920


@dataclass(frozen=True)
class Segment:
    """One capsule of a limb; ``over`` pieces (sleeves, shorts) are drawn over the rest."""

    a: Array
    b: Array
    radius: float  # metres
    colour: BGR
    over: bool = False


def _seq(*draws: Draw) -> Draw:
    def draw(img: Image) -> None:
        for d in draws:
            d(img)

    return draw


class Renderer:
    """Renders one dancer (appearance + body) for one camera size."""

    def __init__(
        self,
        width: int,
        height: int,
        appearance: Appearance,
        shape: BodyShape,
        background_seed: int = 0,
        camera: Camera | None = None,
    ) -> None:
        # Made for 128-512 (training sizes); camera sizes up to 1920 work, just slower.
        if not (MIN_SIZE <= width <= MAX_SIZE and MIN_SIZE <= height <= MAX_SIZE):
            raise ValueError(
                f"render size {width}x{height} is outside {MIN_SIZE}-{MAX_SIZE} pixels per side"
            )
        self.camera = camera or Camera(width, height)
        if (self.camera.width, self.camera.height) != (width, height):
            raise ValueError(
                f"camera {self.camera.width}x{self.camera.height} is not {width}x{height}"
            )
        self.look = appearance
        self.shape = shape
        self.plate = background_plate(width, height, background_seed)

    def render(self, posed: Posed, index: int) -> Image:
        """Frame ``index`` of ``posed`` as a BGR image."""
        return self._render(posed, index)[0]

    def render_with_mask(self, posed: Posed, index: int) -> tuple[Image, Mask]:
        """Frame ``index`` and its exact person mask (``uint8``, 255 = person, at the
        :func:`~protocol.masks.mask_shape` of the frame). The image is :meth:`render`'s."""
        img, parts = self._render(posed, index)
        h, w = img.shape[:2]
        canvas = np.zeros((h, w), np.uint8)
        for part in parts:
            part.cover(canvas)
        mh, mw = mask_shape(w, h)
        if (mh, mw) == (h, w):
            return img, canvas
        return img, np.asarray(cv2.resize(canvas, (mw, mh), interpolation=cv2.INTER_AREA), np.uint8)

    def _render(self, posed: Posed, index: int) -> tuple[Image, list[Part]]:
        img = self.plate.copy()
        joints = posed.joints[index]
        proj = self.camera.project(joints)
        self._shadow(img, joints)
        parts = self._limbs(proj) + self._body(posed, index, proj)
        for part in sorted(parts, key=lambda p: -p.depth):
            part.draw(img)
        return img, parts

    # -- geometry helpers -------------------------------------------------------------

    def _px(self, metres: float, depth: float) -> float:
        return metres * self.camera.focal / max(depth, 1e-3)

    def _strokes(self, seg: Segment) -> tuple[float, Draw, Draw, Draw, Draw]:
        # A capsule as three strokes: dark rim, colour fill, highlight toward the light.
        a, b, colour = seg.a, seg.b, seg.colour
        depth = float(a[2] + b[2]) / 2
        r = max(1.0, self._px(seg.radius, depth))
        pa, pb = pt(a), pt(b)
        off = (-round(0.3 * r * ONE), -round(0.35 * r * ONE))
        ha, hb = (pa[0] + off[0], pa[1] + off[1]), (pb[0] + off[0], pb[1] + off[1])

        def rim(img: Image) -> None:
            cv2.line(img, pa, pb, shade(colour, 0.55), round(2 * r + 1), cv2.LINE_AA, SHIFT)

        def cover(img: Image) -> None:  # the rim is the capsule's outline
            cv2.line(img, pa, pb, COVER, round(2 * r + 1), cv2.LINE_AA, SHIFT)

        def fill(img: Image) -> None:
            cv2.line(img, pa, pb, colour, max(1, round(2 * r - 1)), cv2.LINE_AA, SHIFT)

        def light(img: Image) -> None:
            if r >= 2.5:
                cv2.line(
                    img, ha, hb, lighten(colour, 0.25), max(1, round(0.6 * r)), cv2.LINE_AA, SHIFT
                )

        return depth, rim, fill, light, cover

    def _chain(self, segments: list[Segment]) -> list[Part]:
        """A limb as one part (rims, then fills, then highlights: no seams at the joints)
        unless it reaches so far in depth that it must be sorted piece by piece."""
        strokes = [self._strokes(seg) for seg in segments]
        depths = [st[0] for st in strokes]
        if max(depths) - min(depths) > 0.2:
            parts = []
            for seg, (depth, rim, fill, light, cover) in zip(segments, strokes, strict=True):
                d = depth - (1e-4 if seg.over else 0.0)
                parts.append(Part(d, _seq(rim, fill, light), cover))
            return parts
        order = sorted(range(len(segments)), key=lambda i: segments[i].over)
        draws = [strokes[i][1] for i in order] + [strokes[i][2] for i in order]
        draws += [strokes[i][3] for i in order]
        covers = _seq(*(st[4] for st in strokes))
        return [Part(sum(depths) / len(depths), _seq(*draws), covers)]

    # -- body parts ---------------------------------------------------------------

    def _limbs(self, proj: Array) -> list[Part]:
        s, look = self.shape, self.look
        parts: list[Part] = []
        for side, heel, toe in (("left", L_HEEL, L_TOE), ("right", R_HEEL, R_TOE)):
            j = {
                n: proj[KP[f"{side}_{n}"]]
                for n in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
            }
            hand = j["wrist"] + (j["wrist"] - j["elbow"]) * 0.22
            arm = [Segment(j["wrist"], hand, s.arm_r * 0.85, look.skin)]
            if look.long_sleeves:
                arm += [
                    Segment(j["shoulder"], j["elbow"], s.arm_r * 1.1, look.shirt),
                    Segment(j["elbow"], j["wrist"], s.arm_r * 0.9, look.shirt),
                ]
            else:
                hem = j["shoulder"] + (j["elbow"] - j["shoulder"]) * 0.45
                sleeve = Segment(j["shoulder"], hem, s.arm_r * 1.1, look.shirt, over=True)
                upper = Segment(j["shoulder"], j["elbow"], s.arm_r, look.skin)
                arm += [upper, Segment(j["elbow"], j["wrist"], s.arm_r * 0.8, look.skin), sleeve]
            parts += self._chain(arm)
            parts += self._chain(self._leg(j["hip"], j["knee"], j["ankle"]))
            mid = (proj[heel] + proj[toe]) / 2
            shoe = Segment(proj[heel], proj[toe], s.ankle_h * 0.6, look.shoes)
            parts += self._chain([Segment(j["ankle"], mid, s.ankle_h * 0.55, look.shoes), shoe])
        return parts

    def _leg(self, hip: Array, knee: Array, ankle: Array) -> list[Segment]:
        s, look = self.shape, self.look
        if look.legwear == "trousers":
            return [
                Segment(hip, knee, s.leg_r, look.legwear_colour),
                Segment(knee, ankle, s.leg_r * 0.78, look.legwear_colour),
            ]
        legs = [
            Segment(hip, knee, s.leg_r * 0.9, look.skin),
            Segment(knee, ankle, s.leg_r * 0.68, look.skin),
        ]
        if look.legwear == "shorts":
            hem = hip + (knee - hip) * 0.55
            legs.append(Segment(hip, hem, s.leg_r * 1.02, look.legwear_colour, over=True))
        return legs  # a skirt covers the thigh tops itself

    def _body(self, posed: Posed, index: int, proj: Array) -> list[Part]:
        s = self.shape
        hips = (proj[KP["left_hip"]] + proj[KP["right_hip"]]) / 2
        neck = (proj[KP["left_shoulder"]] + proj[KP["right_shoulder"]]) / 2
        torso, pelvis = posed.torso[index], posed.pelvis[index]
        hb = self._px(
            float(
                np.hypot(
                    (s.shoulder_half + 0.3 * s.arm_r) * torso[0, 0], s.torso_depth * torso[0, 2]
                )
            ),
            neck[2],
        )
        waist = np.hypot(s.waist_half * pelvis[0, 0], 0.9 * s.torso_depth * pelvis[0, 2])
        ha = self._px(float(waist), hips[2])
        axis = neck[:2] - hips[:2]
        length = max(float(np.linalg.norm(axis)), 1e-6)
        perp = np.array([-axis[1], axis[0]]) / length
        front = float(min(hips[2], neck[2])) - 0.4 * s.torso_depth
        parts = [Part(front, *self._torso_draw(hips[:2], neck[:2], perp, ha, hb))]
        parts.append(Part(front + 0.01, *self._pelvis_draw(hips[:2], axis, perp, ha)))
        if self.look.legwear == "skirt":
            parts.append(self._skirt(proj, hips, axis, perp, ha))
        parts += head_parts(
            self.camera, self.shape, self.look, posed.head[index], posed.joints[index]
        )
        return parts

    def _torso_draw(
        self, hips: Array, neck: Array, perp: Array, ha: float, hb: float
    ) -> tuple[Draw, Draw]:
        look = self.look
        waist = hips + (neck - hips) * 0.12
        top = neck + (neck - hips) * 0.06
        poly = np.array([waist + perp * ha, top + perp * hb, top - perp * hb, waist - perp * ha])
        pts = np.round(poly * ONE).astype(np.int32)
        dark = np.array(
            [waist + perp * ha * 0.55, top + perp * hb * 0.55, top + perp * hb, waist + perp * ha]
        )
        dark_pts = np.round(dark * ONE).astype(np.int32)
        unit = max(2.0, hb * 0.35)  # pattern size follows the dancer's size on screen

        def draw(img: Image) -> None:
            cv2.fillConvexPoly(img, pts, look.shirt, cv2.LINE_AA, SHIFT)
            if look.shirt_pattern != "plain":
                _pattern(img, poly, neck, unit, look.shirt_pattern, look.shirt_alt)
            # The side away from the light (the dancer's left on screen right) is darker.
            cv2.fillConvexPoly(img, dark_pts, shade(look.shirt, 0.78), cv2.LINE_AA, SHIFT)
            cv2.polylines(img, [pts], True, shade(look.shirt, 0.5), 1, cv2.LINE_AA, SHIFT)

        return draw, _polygon_cover(pts, outline=True)

    def _pelvis_draw(self, hips: Array, axis: Array, perp: Array, ha: float) -> tuple[Draw, Draw]:
        colour = self.look.legwear_colour if self.look.legwear != "skirt" else self.look.shirt
        w = ha * 0.95
        down = -axis / max(float(np.linalg.norm(axis)), 1e-6) * w * 0.45
        waist = hips + axis * 0.2
        poly = np.array(
            [waist + perp * w, waist - perp * w, hips - perp * w + down, hips + perp * w + down]
        )
        pts = np.round(poly * ONE).astype(np.int32)

        def draw(img: Image) -> None:
            cv2.fillConvexPoly(img, pts, colour, cv2.LINE_AA, SHIFT)

        return draw, _polygon_cover(pts, outline=False)

    def _skirt(self, proj: Array, hips: Array, axis: Array, perp: Array, ha: float) -> Part:
        colour = self.look.legwear_colour
        hem = [
            proj[KP[f"{s}_hip"]] + (proj[KP[f"{s}_knee"]] - proj[KP[f"{s}_hip"]]) * 0.6
            for s in ("left", "right")
        ]
        waist = hips[:2] + axis * 0.18
        pts2 = [waist + perp * ha, waist - perp * ha]
        for h in hem:
            out = np.sign(float(np.dot(h[:2] - hips[:2], perp))) or 1.0
            pts2 += [h[:2] + perp * out * ha * 0.45, h[:2] - perp * out * ha * 0.1]
        hull = cv2.convexHull(np.round(np.array(pts2) * ONE).astype(np.int32))

        def draw(img: Image) -> None:
            cv2.fillConvexPoly(img, hull, colour, cv2.LINE_AA, SHIFT)
            cv2.polylines(img, [hull], True, shade(colour, 0.55), 1, cv2.LINE_AA, SHIFT)

        return Part(
            float(hips[2]) - self.shape.leg_r * 1.2, draw, _polygon_cover(hull, outline=True)
        )

    def _shadow(self, img: Image, joints: Array) -> None:
        feet = joints[[L_HEEL, R_HEEL, L_TOE, R_TOE]]
        centre = feet.mean(axis=0)
        spread = float(np.ptp(feet[:, 0])) / 2 + 0.25
        a = self.camera.project([centre[0] - spread, 0.0, centre[2]])
        b = self.camera.project([centre[0] + spread, 0.0, centre[2]])
        c = self.camera.project([centre[0], 0.0, centre[2] + 0.18])
        cx, cy = (a[0] + b[0]) / 2, float(c[1] + a[1]) / 2
        ax, ay = max(1, int((b[0] - a[0]) / 2)), max(1, int(abs(c[1] - a[1]) + 1))
        x0, y0 = max(0, int(cx) - ax - 1), max(0, int(cy) - ay - 1)
        x1, y1 = min(img.shape[1], int(cx) + ax + 2), min(img.shape[0], int(cy) + ay + 2)
        if x1 <= x0 or y1 <= y0:
            return
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.ellipse(mask, (int(cx) - x0, int(cy) - y0), (ax, ay), 0, 0, 360, 90, -1, cv2.LINE_AA)
        roi = img[y0:y1, x0:x1]
        roi[:] = (roi.astype(np.uint16) * (255 - mask[..., None]) // 255).astype(np.uint8)


def _polygon_cover(pts: npt.NDArray[Any], *, outline: bool) -> Draw:
    def cover(img: Image) -> None:
        cv2.fillConvexPoly(img, pts, COVER, cv2.LINE_AA, SHIFT)
        if outline:
            cv2.polylines(img, [pts], True, COVER, 1, cv2.LINE_AA, SHIFT)

    return cover


def _pattern(img: Image, poly: Array, anchor: Array, unit: float, kind: str, colour: BGR) -> None:
    # Pattern in the torso's own coordinates (anchored at the neck), so it moves with
    # the dancer instead of sliding over the shirt.
    h, w = img.shape[:2]
    x0, y0 = np.floor(poly.min(axis=0)).astype(int)
    x1, y1 = np.ceil(poly.max(axis=0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    local = np.round((poly - [x0, y0]) * ONE).astype(np.int32)
    cv2.fillConvexPoly(mask, local, 1, cv2.LINE_8, SHIFT)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    u, v = (xs - float(anchor[0])) / unit, (ys - float(anchor[1])) / unit
    if kind == "stripes":
        on = (np.floor(v) % 2) == 0
    elif kind == "checks":
        on = ((np.floor(u) + np.floor(v)) % 2) == 0
    else:  # dots
        on = ((u - np.round(u)) ** 2 + (v - np.round(v)) ** 2) < 0.09
    img[y0:y1, x0:x1][(mask > 0) & on] = colour
