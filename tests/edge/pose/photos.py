"""Real photos of people that ship inside installed packages (no downloads)."""

from __future__ import annotations

import cv2
import numpy as np
from matplotlib import cbook
from PIL import Image
from skimage import data

from edge.frames import Image as BgrImage


def astronaut() -> BgrImage:
    """Eileen Collins, frontal, head and torso, 512x512."""
    return np.ascontiguousarray(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))


def grace_hopper() -> BgrImage:
    """Grace Hopper, frontal portrait, 512x600."""
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        rgb = np.asarray(Image.open(f).convert("RGB"))
    return np.ascontiguousarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def side_by_side(gap: int = 128) -> tuple[BgrImage, int]:
    """Astronaut | black gap | Grace Hopper at the same height; returns the image and the
    x where Grace Hopper's photo starts."""
    a = astronaut()
    g = grace_hopper()
    g = cv2.resize(g, (round(g.shape[1] * a.shape[0] / g.shape[0]), a.shape[0]))
    pad = np.zeros((a.shape[0], gap, 3), np.uint8)
    return np.ascontiguousarray(np.hstack([a, pad, g])), a.shape[1] + gap
