"""Layouts of a rendition: the visitor alone (``solo``) or beside the reference performer.

``solo`` is the camera frame the :class:`~cloud.render.composite.Stage` composites,
at the camera's resolution. ``side-by-side`` keeps the camera's height and puts two
panels next to each other: on the left the reference performer (its own video where
the dance has one, else its skeleton drawn on a neutral backdrop), on the right the
visitor, cut from the composited frame around their framing. Each panel is as wide as
the dancer's framing, at least half the camera's width, and the pair at most 16:9
(or the camera's width if wider): a 1280x720 camera gives a 1280x720 side-by-side,
a 640x480 one up to 852x480.

A :class:`ReferencePanel` gives the reference's frame ``i`` (the dance's frame rate);
:class:`SkeletonPanel` and :class:`VideoPanel` are the two there are.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final, Literal, Protocol, get_args

import av
import cv2
import numpy as np
import numpy.typing as npt

from cloud.render.composite import Stage
from cloud.render.errors import RenderError
from cloud.render.generator import Images
from protocol.skeleton import KP, LIMBS

Layout = Literal["solo", "side-by-side"]
LAYOUTS: Final[tuple[Layout, ...]] = get_args(Layout)
_BACKDROP_TOP = np.array([236, 232, 228], np.float32)  # BGR: a light, neutral studio grey
_BACKDROP_FLOOR = np.array([196, 192, 188], np.float32)
_LABEL_FONT = cv2.FONT_HERSHEY_DUPLEX


class ReferencePanel(Protocol):
    """The reference performer, frame by frame, at a fixed panel size."""

    width: int
    height: int

    def frame(self, index: int) -> Images:
        """The ``height x width x 3`` BGR panel for dance frame ``index`` (increasing)."""
        ...


def _side(name: str) -> str:
    return "left" if name.startswith("left") else "right" if name.startswith("right") else ""


# Limb colours a viewer reads at once: the performer's left side warm, right side cool,
# the torso and head light (BGR).
_WARM, _COOL, _TORSO = (40, 130, 240), (205, 140, 40), (90, 80, 70)
_NAMES = {i: n for n, i in KP.items()}
_FACE = frozenset(KP[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"))


def _limb_color(a: int, b: int) -> tuple[int, int, int]:
    sides = {_side(_NAMES[a]), _side(_NAMES[b])}
    if sides == {"left"}:
        return _WARM
    if sides == {"right"}:
        return _COOL
    return _TORSO


def neutral_backdrop(width: int, height: int, floor: float = 0.86) -> Images:
    """A light studio backdrop with a slightly darker floor from ``floor`` of the height."""
    rows = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    wall = _BACKDROP_TOP * (1 - 0.08 * rows)
    img = np.broadcast_to(wall, (height, width, 3)).copy()
    img[round(floor * height) :] = _BACKDROP_FLOOR
    return img.astype(np.uint8)


class SkeletonPanel:
    """The reference's keypoints drawn as a clean, anti-aliased figure on a backdrop.

    One fit for the whole dance (not per frame), so the figure moves as the performer
    did: the dance's extent fills 80 % of the panel height, feet on the floor line.
    """

    _SHIFT = 4

    def __init__(
        self, keypoints: npt.ArrayLike, width: int, height: int, min_conf: float = 0.2
    ) -> None:
        self.width, self.height = width, height
        kps = np.asarray(keypoints, dtype=np.float32)
        self._kps, self._min_conf = kps, min_conf
        ok = (kps[..., 2] >= min_conf) & np.isfinite(kps).all(axis=-1)
        if not ok.any():
            raise RenderError("the reference dance has no confident keypoints to draw")
        pts = kps[ok][:, :2]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        extent = max(float(hi[1] - lo[1]), 1.0)
        self._extent = extent
        self._scale = min(0.8 * height / extent, 0.9 * width / max(float(hi[0] - lo[0]), 1.0))
        floor_y = 0.88 * height
        self._offset = np.array(
            [width / 2 - (lo[0] + hi[0]) / 2 * self._scale, floor_y - hi[1] * self._scale],
            np.float32,
        )
        self._backdrop = neutral_backdrop(width, height)
        self._thickness = max(2, round(height / 70))

    def frame(self, index: int) -> Images:
        img = self._backdrop.copy()
        kps = self._kps[min(index, len(self._kps) - 1)]
        xy = kps[:, :2] * self._scale + self._offset
        seen = (kps[:, 2] >= self._min_conf) & np.isfinite(xy).all(axis=1)
        pts = np.round(np.nan_to_num(xy) * (1 << self._SHIFT)).astype(np.int64)
        t = self._thickness

        def p(j: int) -> tuple[int, int]:
            return int(pts[j, 0]), int(pts[j, 1])

        # The face's five points make one head, joined to the shoulders by a neck.
        face = [j for j in _FACE if seen[j]]
        limbs = [
            (a, b) for a, b in LIMBS if seen[a] and seen[b] and a not in _FACE and b not in _FACE
        ]
        head: tuple[int, int] | None = None
        if face:
            c = np.mean([xy[j] for j in face], axis=0)
            head = (round(float(c[0])), round(float(c[1])))
        # A soft shadow under the limbs lifts the figure off the backdrop.
        shadow = np.zeros(img.shape[:2], np.uint8)
        for a, b in limbs:
            cv2.line(shadow, p(a), p(b), (255,), t + 4, cv2.LINE_AA, self._SHIFT)
        soft = cv2.GaussianBlur(shadow, (0, 0), t).astype(np.float32)[:, :, None] / 255.0
        img = (img.astype(np.float32) * (1 - 0.25 * soft)).astype(np.uint8)
        shoulders = [KP["left_shoulder"], KP["right_shoulder"]]
        if head is not None and seen[shoulders].all():
            neck = np.mean(xy[shoulders], axis=0)
            cv2.line(
                img, head, (round(float(neck[0])), round(float(neck[1]))), _TORSO, t, cv2.LINE_AA
            )
        for a, b in limbs:
            cv2.line(img, p(a), p(b), _limb_color(a, b), t, cv2.LINE_AA, self._SHIFT)
        for j in np.flatnonzero(seen):
            if int(j) not in _FACE:
                color = _limb_color(int(j), int(j))
                cv2.circle(
                    img, p(int(j)), (t * 3 // 4 + 1) << self._SHIFT, color, -1, cv2.LINE_AA, 4
                )
        if head is not None:
            r = round(max(t * 2.0, 0.065 * self._scale * self._extent))
            cv2.circle(img, head, r, _TORSO, -1, cv2.LINE_AA)
        return img


class VideoPanel:
    """The reference's own video, streamed, letterboxed into the panel on the backdrop.

    Frame ``i`` of the dance (at ``dance_fps``) shows the video frame at the same time;
    past the video's end the last frame stays.
    """

    def __init__(self, path: Path, width: int, height: int, dance_fps: float) -> None:
        self.width, self.height, self.path = width, height, path
        try:
            self._container = av.open(str(path))
            stream = self._container.streams.video[0]
        except (av.FFmpegError, OSError, IndexError) as exc:
            raise RenderError(f"cannot read the reference video {path}: {exc}") from None
        self._ratio = float(stream.average_rate or dance_fps) / dance_fps
        self._frames: Iterator[av.VideoFrame] = self._container.decode(video=0)
        self._next = 0  # index of the next video frame the iterator gives
        self._last: Images | None = None
        self._backdrop = neutral_backdrop(width, height)

    def frame(self, index: int) -> Images:
        want = round(index * self._ratio)
        while self._next <= want:
            got = next(self._frames, None)
            if got is None:
                break
            self._last = self._fit(np.asarray(got.to_ndarray(format="bgr24"), np.uint8))
            self._next += 1
        if self._last is None:
            raise RenderError(f"the reference video {self.path} has no frames")
        return self._last

    def _fit(self, img: npt.NDArray[np.uint8]) -> Images:
        h, w = img.shape[:2]
        s = min(self.width / w, self.height / h)
        nw, nh = max(2, round(w * s)), max(2, round(h * s))
        small = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
        out = self._backdrop.copy()
        y0, x0 = (self.height - nh) // 2, (self.width - nw) // 2
        out[y0 : y0 + nh, x0 : x0 + nw] = small
        return out

    def close(self) -> None:
        self._container.close()


def side_by_side_size(stage: Stage) -> tuple[int, int, int]:
    """``(output width, output height, panel width)`` of the side-by-side layout."""
    w, h = stage.size
    widest = max(w, round(16 * h / 9)) // 2  # the pair is at most 16:9 (or the camera's width)
    panel = min(widest, max(w // 2, stage.framing.size), w)
    panel -= panel % 2
    return 2 * panel, h, panel


class SideBySide:
    """Reference panel on the left, the visitor's composited frame cut to a panel on the right.

    Where the panel is narrower than the camera, it pans with the dancer: its centre
    follows their hips' x (``camera_kps``, the whole dance known in advance) smoothed
    over about a second, so a step sideways stays in view without the camera jittering.
    """

    def __init__(
        self,
        stage: Stage,
        reference: ReferencePanel,
        camera_kps: npt.NDArray[np.float32] | None = None,
        smooth_frames: float = 12.0,
    ) -> None:
        self.width, self.height, self.panel = side_by_side_size(stage)
        if (reference.width, reference.height) != (self.panel, self.height):
            raise RenderError(
                f"reference panel is {reference.width}x{reference.height}, "
                f"the layout needs {self.panel}x{self.height}"
            )
        centre = stage.framing.x0 + stage.framing.size / 2
        centres = np.array([centre])
        if camera_kps is not None and len(camera_kps):
            centres = _smooth_centres(camera_kps, centre, smooth_frames)
        x0 = np.clip(np.round(centres - self.panel / 2), 0, stage.width - self.panel)
        self.x0s = x0.astype(np.int64)
        self.reference = reference
        self._labels = (
            _Label(self.panel, self.height, "original"),
            _Label(self.panel, self.height, "you"),
        )

    def x0(self, index: int) -> int:
        """Left edge of the visitor's panel in the camera frame at dance frame ``index``."""
        return int(self.x0s[min(index, len(self.x0s) - 1)])

    def compose(self, camera_frame: Images, index: int) -> Images:
        out = np.empty((self.height, self.width, 3), np.uint8)
        out[:, : self.panel] = self.reference.frame(index)
        x0 = self.x0(index)
        out[:, self.panel :] = camera_frame[:, x0 : x0 + self.panel]
        for k, label in enumerate(self._labels):
            label.apply(out[:, k * self.panel : (k + 1) * self.panel])
        out[:, self.panel - 1 : self.panel + 1] = 255  # a thin divider
        return out

    def to_output(self, camera_kps: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """``[T, K, 3]`` camera-pixel keypoints of dance frames ``0..T-1`` -> pixels of the
        side-by-side frame (the visitor panel)."""
        out = camera_kps.copy()
        shift = np.array([self.x0(i) for i in range(len(out))], np.float32)
        out[..., 0] += self.panel - shift.reshape((-1,) + (1,) * (out.ndim - 2))
        return out


def _smooth_centres(
    kps: npt.NDArray[np.float32], fallback: float, sigma: float
) -> npt.NDArray[np.float64]:
    """Per-frame hip-midpoint x, gaps filled, Gaussian-smoothed over ``sigma`` frames."""
    hips = kps[:, [KP["left_hip"], KP["right_hip"]]]
    seen = (hips[:, :, 2] > 0.2).all(axis=1) & np.isfinite(hips[:, :, 0]).all(axis=1)
    if not seen.any():
        return np.full(len(kps), fallback)
    t = np.arange(len(kps))
    x = np.interp(t, t[seen], hips[seen, :, 0].mean(axis=1).astype(np.float64))
    r = max(1, round(3 * sigma))
    w = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    padded = np.pad(x, r, mode="edge")
    return np.asarray(np.convolve(padded, w / w.sum(), mode="valid"), np.float64)


class _Label:
    """A caption, white on a translucent dark plate, at the bottom centre of a panel."""

    def __init__(self, width: int, height: int, text: str) -> None:
        scale = max(0.5, height / 700)
        (tw, th), base = cv2.getTextSize(text, _LABEL_FONT, scale, 1)
        pad = max(3, round(th * 0.4))
        pw, ph = tw + 2 * pad, th + base + 2 * pad
        mask = np.zeros((ph, pw), np.uint8)
        cv2.putText(mask, text, (pad, pad + th), _LABEL_FONT, scale, 255, 1, cv2.LINE_AA)
        t = mask.astype(np.float32)[:, :, None] / 255.0
        self._alpha = 0.55 + 0.45 * t
        self._color = 255.0 * t / self._alpha
        y0, x0 = height - ph - max(4, height // 30), (width - pw) // 2
        self.box = (y0, y0 + ph, x0, x0 + pw)

    def apply(self, panel: Images) -> None:
        y0, y1, x0, x1 = self.box
        roi = panel[y0:y1, x0:x1].astype(np.float32)
        panel[y0:y1, x0:x1] = (roi * (1 - self._alpha) + self._color * self._alpha).astype(np.uint8)
