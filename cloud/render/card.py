"""The intro and outro cards: the booth's name and the dance's, before and after the dance.

A card is one still image, held for a second or two at the start and end of a
rendition (the encoder burns the "AI-generated" mark into it like into every frame).
The music waits for the intro: it starts with the dance (``VideoEncoder(music_delay_s)``).
Text is Hershey (OpenCV's built-in vector fonts, anti-aliased), so no font file is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from cloud.render.generator import Images

_FONT = cv2.FONT_HERSHEY_DUPLEX
_TOP = np.array([58, 40, 34], np.float32)  # BGR: a deep plum at the top ...
_BOTTOM = np.array([24, 18, 16], np.float32)  # ... to near-black at the bottom
_ACCENT = (70, 170, 255)  # BGR: the booth's orange, under the title


@dataclass(frozen=True)
class Cards:
    """What the intro and outro say and how long they last (0 s: no card)."""

    booth: str
    dance: str = ""
    intro_s: float = 1.5
    outro_s: float = 1.0

    def intro(self, width: int, height: int) -> Images:
        return title_card(width, height, self.booth, self.dance, "dancebooth")

    def outro(self, width: int, height: int) -> Images:
        return title_card(width, height, self.booth, "thanks for dancing!", "made with AI")

    def frames(self, seconds: float, fps: float) -> int:
        return max(0, round(seconds * fps))


def title_card(width: int, height: int, title: str, subtitle: str = "", small: str = "") -> Images:
    """A dark card with ``title`` large and centred, ``subtitle`` under it, ``small`` below."""
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    card = np.broadcast_to(_TOP * (1 - ramp) + _BOTTOM * ramp, (height, width, 3))
    img = np.ascontiguousarray(card.astype(np.uint8))
    title_h = _put_centred(img, title or "dancebooth", 0.46, 0.70, 0.11, (255, 255, 255))
    line_y = round(height * 0.46 + title_h * 0.5 + max(6, title_h * 0.35))
    half = round(min(width * 0.12, 120))
    cv2.line(img, (width // 2 - half, line_y), (width // 2 + half, line_y), _ACCENT, 2, cv2.LINE_AA)
    if subtitle:
        _put_centred(img, subtitle, 0.60, 0.60, 0.055, (225, 225, 225))
    if small:
        _put_centred(img, small, 0.88, 0.40, 0.035, (160, 160, 160))
    return img


def _put_centred(
    img: Images,
    text: str,
    y_frac: float,
    max_w_frac: float,
    max_h_frac: float,
    color: tuple[int, int, int],
) -> int:
    """Draw ``text`` centred at ``y_frac`` of the height, as large as both limits allow."""
    h, w = img.shape[:2]
    (tw, th), _ = cv2.getTextSize(text, _FONT, 1.0, 1)
    scale = min(max_w_frac * w / tw, max_h_frac * h / th)
    thickness = max(1, round(scale * 1.4))
    (tw, th), _ = cv2.getTextSize(text, _FONT, scale, thickness)
    origin = ((w - tw) // 2, round(y_frac * h + th / 2))
    cv2.putText(img, text, origin, _FONT, scale, color, thickness, cv2.LINE_AA)
    return th
