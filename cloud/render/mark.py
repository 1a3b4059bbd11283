"""The visible "AI-generated" mark burnt into every rendition frame.

White text on a translucent dark plate in the bottom-left corner, sized from the
frame width so it stays legible at 128 px (the smallest rendition) and is not
oversized at 512 px. The plate's alpha mask is drawn once per frame size; marking a
frame is then one blend of a small region.
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

TEXT: Final = "AI-generated"
_FONT: Final = cv2.FONT_HERSHEY_SIMPLEX
_PLATE_ALPHA: Final = 0.6


class AiMark:
    """The mark for one frame size; :meth:`apply` returns a marked copy of a BGR frame."""

    def __init__(self, width: int, height: int, text: str = TEXT) -> None:
        # Text about 60 % of the width at 128 px, capped at 200 px on large frames.
        target_w = min(0.6 * width, 200.0)
        (tw, _), _ = cv2.getTextSize(text, _FONT, 1.0, 1)
        scale = target_w / tw
        thickness = max(1, round(scale * 1.6))
        (tw, th), base = cv2.getTextSize(text, _FONT, scale, thickness)
        pad = max(2, round(th * 0.4))
        pw, ph = tw + 2 * pad, th + base + 2 * pad
        if pw > width or ph > height:
            raise ValueError(f"a {width}x{height} frame is too small for the mark")
        self.box = (height - ph, height, 0, pw)  # y0, y1, x0, x1
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
