"""The stage: the generator's square crop put back into the camera frame, over the plate.

The generator works in one square window of the capture
(:class:`~cloud.training.framing.Framing`) at its own resolution (256 px). A rendition is
delivered at the camera's resolution: :class:`Stage` upscales each generated frame to the
window's size in camera pixels and places it at the window's place in the frame.

- A **dancer-only** generator (BGRA, alpha 255 = dancer) is blended over the backdrop
  with its alpha softened by a Gaussian ``feather`` (in camera pixels), and a soft
  contact shadow under the feet. Everything the dancer touches lies within
  ``margin`` pixels of the upscaled alpha (the blend is cut to that dilation), so
  outside it the frame *is* the backdrop, byte for byte, before the codec.
- A **full-frame** generator (BGR, background included) is upscaled into the window,
  its border faded into the backdrop over a few pixels so the square does not show.

The backdrop is the node's clean plate when there is one, else the best background
the session gives (:func:`median_background` of its frames), else a plain grey:
:attr:`Backdrop.source` says which, for the rendition's report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from cloud.render.errors import CompositeError
from cloud.render.generator import Images
from cloud.training.framing import Framing

BackdropSource = Literal["plate", "median", "plain"]
PLAIN_GREY = (118, 118, 118)  # BGR: the backdrop when neither plate nor frames exist
_SHADOW_STRENGTH = 0.35  # darkest the contact shadow makes the floor (0 = no shadow)


@dataclass(frozen=True)
class Backdrop:
    """The background a rendition is composited over, and where it came from."""

    image: Images  # [H, W, 3] uint8 BGR at the camera's resolution
    source: BackdropSource

    @classmethod
    def plain(cls, width: int, height: int) -> Backdrop:
        img = np.empty((height, width, 3), np.uint8)
        img[:] = PLAIN_GREY
        return cls(img, "plain")


def median_background(frames: npt.ArrayLike) -> Images:
    """The empty booth from frames of a dancer moving about: the per-pixel temporal median."""
    stack = np.asarray(frames, dtype=np.uint8)
    if stack.ndim != 4 or stack.shape[-1] != 3 or len(stack) == 0:
        raise ValueError(f"expected [T, H, W, 3] frames, got shape {stack.shape}")
    return np.median(stack, axis=0).astype(np.uint8)


@dataclass
class StageCounts:
    """What happened to the frames placed on a stage (for the rendition's report)."""

    frames: int = 0
    empty_alpha: int = 0  # dancer-only frames whose alpha was empty: backdrop only


class Stage:
    """Places ``resolution``-px generator frames into ``backdrop`` through ``framing``."""

    def __init__(
        self,
        backdrop: Backdrop,
        framing: Framing,
        resolution: int,
        *,
        frame_size: tuple[int, int] | None = None,
        feather: float | None = None,
        shadow: bool = True,
    ) -> None:
        img = backdrop.image
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise CompositeError(f"the backdrop must be [H, W, 3] uint8 BGR, got {img.shape}")
        h, w = img.shape[:2]
        if frame_size is not None and frame_size != (w, h):
            raise CompositeError(
                f"the clean plate is {w}x{h} but the session's frames are "
                f"{frame_size[0]}x{frame_size[1]}: the plate must be taken by the same camera "
                "at the same resolution; retake the plate (operator: Retake plate) or render "
                "without it"
            )
        if w % 2 or h % 2:
            raise CompositeError(f"H.264 needs an even frame size; the camera gives {w}x{h}")
        self.backdrop, self.framing, self.resolution = backdrop, framing, resolution
        self.width, self.height = w, h
        # One generator pixel, in camera pixels, is the natural width of the soft edge.
        self.feather = feather if feather is not None else max(0.8, framing.size / resolution)
        # The dilation the dancer may touch: the feather's support, at least 1.5 % of the
        # frame height (room for the contact shadow under the feet).
        self.margin = max(math.ceil(3 * self.feather) + 1, math.ceil(0.015 * h))
        self.shadow = shadow
        self.counts = StageCounts()
        self._window = _window(framing, w, h)
        self._dilate = np.asarray(
            cv2.getStructuringElement(cv2.MORPH_RECT, (2 * self.margin + 1,) * 2), np.uint8
        )
        self._ramp = max(2, framing.size // 64)
        self._fade = _border_fade(framing.size, self._ramp)

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def to_camera(self, keypoints: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """``[..., 3]`` generator-pixel keypoints -> camera pixels (inverse of the framing)."""
        out = np.array(keypoints, dtype=np.float32, copy=True)
        f = self.framing.size / self.resolution
        out[..., 0] = (out[..., 0] + 0.5) * f - 0.5 + self.framing.x0
        out[..., 1] = (out[..., 1] + 0.5) * f - 0.5 + self.framing.y0
        return out

    def crop(self) -> Images:
        """The backdrop as the generator sees it: the window at ``resolution`` px."""
        return self.framing.apply(self.backdrop.image, self.resolution)

    def place(self, generated: Images) -> Images:
        """``[B, r, r, 4|3]`` generator frames -> ``[B, H, W, 3]`` camera frames."""
        out = np.empty((len(generated), self.height, self.width, 3), np.uint8)
        for i, g in enumerate(generated):
            out[i] = self.place_one(g)
        return out

    def place_one(self, generated: Images) -> Images:
        frame = self.backdrop.image.copy()
        self.counts.frames += 1
        (fy0, fy1, fx0, fx1), (sy0, sy1, sx0, sx1) = self._window
        if fy1 <= fy0 or fx1 <= fx0:
            return frame  # the window lies outside the frame: nothing to draw
        size = self.framing.size
        up = np.asarray(
            cv2.resize(generated, (size, size), interpolation=cv2.INTER_LINEAR), np.uint8
        )
        up = up[sy0:sy1, sx0:sx1]
        roi = frame[fy0:fy1, fx0:fx1]
        if generated.shape[2] == 3:
            self._fill(roi, up, (sy0, sy1, sx0, sx1))
            return frame
        hard = up[:, :, 3] > 0
        x, y, w, h = cv2.boundingRect(hard.view(np.uint8))
        if w == 0 or h == 0:
            self.counts.empty_alpha += 1
            return frame
        # Work only around the dancer: their box grown by the margin (zeros beyond it, so
        # the blur sees the same border as on the whole window).
        m = self.margin
        y0, y1 = max(0, y - m), min(hard.shape[0], y + h + m)
        x0, x1 = max(0, x - m), min(hard.shape[1], x + w + m)
        up, hard, roi = up[y0:y1, x0:x1], hard[y0:y1, x0:x1], roi[y0:y1, x0:x1]
        reach = cv2.dilate(hard.view(np.uint8), self._dilate) > 0
        k = 2 * math.ceil(3 * self.feather) + 1
        alpha = np.asarray(
            cv2.GaussianBlur(up[:, :, 3].astype(np.float32) / 255.0, (k, k), self.feather),
            np.float32,
        )
        shade = self._contact_shadow(hard) if self.shadow else None
        alpha[~reach] = 0.0
        if shade is not None:
            shade[~reach] = 0.0
        roi[:] = _blend(up[:, :, :3], roi, alpha, shade)
        return frame

    def _fill(self, roi: Images, up: Images, box: tuple[int, int, int, int]) -> None:
        """A full frame into the window: copied inside, faded into the backdrop over the
        ramp at the square's border (only those strips are blended)."""
        sy0, sy1, sx0, sx1 = box
        backdrop = roi.copy()
        roi[:] = up
        r, size = self._ramp, self.framing.size
        h, w = roi.shape[:2]
        strips = (  # rows/cols of the window within the ramp of the square's edges
            (slice(0, max(0, min(h, r - sy0))), slice(None)),
            (slice(max(0, min(h, size - r - sy0)), h), slice(None)),
            (slice(None), slice(0, max(0, min(w, r - sx0)))),
            (slice(None), slice(max(0, min(w, size - r - sx0)), w)),
        )
        fade = self._fade[sy0:sy1, sx0:sx1]
        for ys, xs in strips:
            part = fade[ys, xs]
            if part.size:
                roi[ys, xs] = _blend(up[ys, xs], backdrop[ys, xs], part, None)

    def _contact_shadow(self, hard: npt.NDArray[np.bool_]) -> npt.NDArray[np.float32] | None:
        """A soft dark ellipse where the figure's lowest pixels meet the floor.

        Sized from the margin so that, blurred, it stays within the margin of the feet:
        the blend's cut to the dilated alpha never shows as an edge.
        """
        rows = np.flatnonzero(hard.any(axis=1))
        top, bottom = int(rows[0]), int(rows[-1])
        figure = bottom - top + 1
        if figure < 8:
            return None
        feet = hard[max(top, bottom - max(2, figure // 40)) : bottom + 1]
        cols = np.flatnonzero(feet.any(axis=0))
        m = self.margin
        half_h, sigma = max(1.5, m / 3), max(1.0, m / 6)
        half_w = (cols[-1] - cols[0]) / 2 + m / 3
        top_band = max(0, bottom - m)
        band = np.zeros((hard.shape[0] - top_band, hard.shape[1]), np.uint8)
        centre = (round((cols[0] + cols[-1]) / 2), bottom - top_band)
        cv2.ellipse(
            band, centre, (round(half_w), round(half_h)), 0, 0, 360, (255,), -1, cv2.LINE_AA
        )
        shade = np.zeros(hard.shape, np.float32)
        soft = cv2.GaussianBlur(band.astype(np.float32), (0, 0), sigma)
        shade[top_band:] = soft * (_SHADOW_STRENGTH / 255.0)
        return shade


def _blend(
    fg: Images, bg: Images, alpha: npt.NDArray[np.float32], shade: npt.NDArray[np.float32] | None
) -> Images:
    """``fg`` over ``bg`` (darkened by ``shade``) with ``alpha``; where both are 0, ``bg``."""
    base = bg
    if shade is not None:
        # The shadow lives in a band at the feet: darken only the rows it reaches.
        rows = np.flatnonzero(shade.any(axis=1))
        base = bg.copy()
        if len(rows):
            r0, r1 = int(rows[0]), int(rows[-1]) + 1
            s = shade[r0:r1]
            band = cv2.blendLinear(bg[r0:r1], np.zeros_like(bg[r0:r1]), 1.0 - s, s)
            base[r0:r1] = np.asarray(band, np.uint8)
    out = np.asarray(cv2.blendLinear(fg, base, alpha, 1.0 - alpha), np.uint8)
    touched = alpha > 0.0 if shade is None else (alpha > 0.0) | (shade > 0.0)
    # Exactly the backdrop where nothing was drawn, not a rounding of it.
    return np.asarray(cv2.copyTo(out, touched.view(np.uint8), bg.copy()), np.uint8)


def _window(
    framing: Framing, width: int, height: int
) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    """The framing square clipped to the frame: (frame box, the same box in the square)."""
    fx0, fy0 = max(0, framing.x0), max(0, framing.y0)
    fx1 = min(width, framing.x0 + framing.size)
    fy1 = min(height, framing.y0 + framing.size)
    sx0, sy0 = fx0 - framing.x0, fy0 - framing.y0
    return (fy0, fy1, fx0, fx1), (sy0, sy0 + max(0, fy1 - fy0), sx0, sx0 + max(0, fx1 - fx0))


def _border_fade(size: int, ramp: int) -> npt.NDArray[np.float32]:
    """1 inside a ``size`` square, falling linearly to 0 over ``ramp`` px at its edges."""
    edge = np.minimum(np.arange(size), np.arange(size)[::-1]).astype(np.float32)
    line = np.clip((edge + 0.5) / ramp, 0.0, 1.0)
    return np.asarray(np.minimum(line[:, None], line[None, :]), np.float32)
