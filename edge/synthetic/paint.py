"""Drawing primitives of the dancer renderer: colours, sub-pixel points, depth-sorted parts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from edge.frames import Image
from edge.synthetic.appearance import BGR
from edge.synthetic.rotation import Array

SHIFT = 4  # sub-pixel bits for cv2 drawing
ONE = 1 << SHIFT
COVER = 255  # a part's value in the person mask
Draw = Callable[[Image], None]


@dataclass
class Part:
    """Something to draw, and how far it is from the camera (far parts go first).

    ``cover`` draws the part's outline filled with 255 on a one-channel canvas: the
    pixels the part covers, for the person mask (order does not matter there)."""

    depth: float
    draw: Draw
    cover: Draw


def shade(c: BGR, k: float) -> BGR:
    return (min(255, round(c[0] * k)), min(255, round(c[1] * k)), min(255, round(c[2] * k)))


def lighten(c: BGR, k: float) -> BGR:
    return (
        round(c[0] + (255 - c[0]) * k),
        round(c[1] + (255 - c[1]) * k),
        round(c[2] + (255 - c[2]) * k),
    )


def pt(p: Array) -> tuple[int, int]:
    """A pixel position as cv2 fixed-point coordinates."""
    return round(float(p[0]) * ONE), round(float(p[1]) * ONE)
