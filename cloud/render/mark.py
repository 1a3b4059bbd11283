"""The visible "AI-generated" mark burnt into every rendition frame.

White text on a translucent dark plate in a corner of the frame, sized from the
frame width so it stays legible at 128 px (the smallest rendition) and is not
oversized at 512 px. The corner is fixed for a whole rendition (a jumping mark would
draw the eye) and chosen by :func:`quietest_corner` as the one the dance covers
least, so the mark hides neither a raised hand nor the feet. The plate's alpha mask
is drawn once per frame size; marking a frame is then one blend of a small region.
"""

from __future__ import annotations

from typing import Final, Literal

import cv2
import numpy as np
import numpy.typing as npt

TEXT: Final = "AI-generated"
_FONT: Final = cv2.FONT_HERSHEY_SIMPLEX
_PLATE_ALPHA: Final = 0.6
Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]
CORNERS: Final[tuple[Corner, ...]] = ("top-left", "top-right", "bottom-left", "bottom-right")


class AiMark:
    """The mark for one frame size; :meth:`apply` returns a marked copy of a BGR frame."""

    def __init__(
        self, width: int, height: int, text: str = TEXT, corner: Corner = "top-left"
    ) -> None:
        # Text about 55 % of the width at 128 px, capped at 200 px on large frames.
        target_w = min(0.55 * width, 200.0)
        (tw, _), _ = cv2.getTextSize(text, _FONT, 1.0, 1)
        scale = target_w / tw
        thickness = max(1, round(scale * 1.6))
        (tw, th), base = cv2.getTextSize(text, _FONT, scale, thickness)
        pad = max(2, round(th * 0.4))
        pw, ph = tw + 2 * pad, th + base + 2 * pad
        if pw > width or ph > height:
            raise ValueError(f"a {width}x{height} frame is too small for the mark")
        y0 = 0 if corner.startswith("top") else height - ph
        x0 = 0 if corner.endswith("left") else width - pw
        self.box = (y0, y0 + ph, x0, x0 + pw)  # y0, y1, x0, x1
        text_mask = np.zeros((ph, pw), dtype=np.uint8)
        cv2.putText(text_mask, text, (pad, pad + th), _FONT, scale, 255, thickness, cv2.LINE_AA)
        t = text_mask.astype(np.float32)[:, :, None] / 255.0
        # Colour = white where text, black plate elsewhere; alpha = plate under the text.
        self._alpha = _PLATE_ALPHA + (1.0 - _PLATE_ALPHA) * t
        self._color = 255.0 * t / np.maximum(self._alpha, 1e-6)

    def apply(self, frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        y0, y1, x0, x1 = self.box
        out = frame.copy()
        roi = out[y0:y1, x0:x1].astype(np.float32)
        out[y0:y1, x0:x1] = (roi * (1.0 - self._alpha) + self._color * self._alpha).astype(np.uint8)
        return out


def quietest_corner(keypoints: npt.ArrayLike, width: int, height: int) -> Corner:
    """The corner whose mark box the ``[T, K, 3]`` keypoints (and limbs) enter least."""
    kps = np.asarray(keypoints, dtype=np.float32).reshape(-1, 3)
    pts = kps[(kps[:, 2] > 0) & np.isfinite(kps).all(axis=1), :2]
    best: tuple[int, Corner] | None = None
    for corner in CORNERS:
        y0, y1, x0, x1 = AiMark(width, height, corner=corner).box
        # A margin of a tenth of the frame: joints are points, bodies are not.
        m = 0.1 * min(width, height)
        inside = (
            (pts[:, 0] >= x0 - m)
            & (pts[:, 0] < x1 + m)
            & (pts[:, 1] >= y0 - m)
            & (pts[:, 1] < y1 + m)
        )
        count = int(inside.sum())
        if best is None or count < best[0]:
            best = (count, corner)
    assert best is not None
    return best[1]
