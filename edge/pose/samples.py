"""Sample input for pose checks and benchmarks: real photos of people that ship inside
installed packages (scikit-image's astronaut, matplotlib's Grace Hopper), and a
video-like sequence made from one of them. Nothing is downloaded."""

from __future__ import annotations

import math

import cv2
import numpy as np

from edge.frames import Image
from edge.pose.base import PoseError

NEEDS = "sample photos need scikit-image and matplotlib: pip install 'dancebooth[dev]'"


def astronaut() -> Image:
    """Eileen Collins, frontal, head and torso, 512x512 (BGR)."""
    try:
        from skimage import data
    except ImportError:
        raise PoseError(NEEDS) from None
    return np.ascontiguousarray(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))


def grace_hopper() -> Image:
    """Grace Hopper, frontal portrait, 512 wide x 600 high (BGR)."""
    try:
        from matplotlib import cbook
        from PIL import Image as PilImage
    except ImportError:
        raise PoseError(NEEDS) from None
    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    rgb = np.asarray(PilImage.open(str(path)).convert("RGB"))
    return np.ascontiguousarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def side_by_side(gap: int = 128) -> tuple[Image, int]:
    """Astronaut | black gap | Grace Hopper at the same height: two people in one frame.
    Returns the image and the x where Grace Hopper's photo starts. (BlazePose's detector
    scores the second of two people low when they touch; the gap keeps both clear.)"""
    a = astronaut()
    g = grace_hopper()
    g = np.asarray(
        cv2.resize(g, (round(g.shape[1] * a.shape[0] / g.shape[0]), a.shape[0])), dtype=np.uint8
    )
    pad = np.zeros((a.shape[0], gap, 3), np.uint8)
    return np.ascontiguousarray(np.hstack([a, pad, g])), a.shape[1] + gap


def swaying(n: int, width: int = 640, height: int = 480, people: int = 1) -> list[Image]:
    """``n`` frames of the astronaut (``people=2``: astronaut and Grace Hopper side by side)
    swaying like a dancer at 30 fps: ±30 px sideways, ±12 px up and down, ±4° of lean,
    on a grey backdrop."""
    photo = astronaut() if people == 1 else side_by_side(gap=96)[0]
    scale = min(0.95 * height / photo.shape[0], 0.9 * width / photo.shape[1])
    pw, ph = round(photo.shape[1] * scale), round(photo.shape[0] * scale)
    base = np.full((height, width, 3), 90, np.uint8)
    x0, y0 = (width - pw) // 2, height - ph
    base[y0:, x0 : x0 + pw] = cv2.resize(photo, (pw, ph), interpolation=cv2.INTER_AREA)
    out = []
    for i in range(n):
        t = i / 30.0
        m = cv2.getRotationMatrix2D((width / 2, height), 4 * math.sin(2 * math.pi * t / 2.1), 1.0)
        m[0, 2] += 30 * math.sin(2 * math.pi * t / 3.0)
        m[1, 2] += 12 * math.sin(2 * math.pi * t / 1.3)
        img = cv2.warpAffine(base, m, (width, height), borderMode=cv2.BORDER_REPLICATE)
        out.append(np.asarray(img, dtype=np.uint8))
    return out
