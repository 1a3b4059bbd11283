"""The booth's background plate: back wall with a spotlight and a banner, and a wooden
dance floor in perspective, seen through the booth camera. Built once per camera size
and reused for every frame (it is static, as a real booth's background is)."""

from __future__ import annotations

import colorsys
from functools import lru_cache

import cv2
import numpy as np

from edge.frames import Image
from edge.synthetic.camera import Camera

WALL_Z = -1.8  # metres behind the dance spot
FLOOR_FRONT_Z = 3.0  # beyond the camera's feet: the floor fills the bottom of the frame


def _bgr(h: float, s: float, v: float) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return np.array([b, g, r], dtype=np.float32) * 255


def _pixel(camera: Camera, x: float, y: float, z: float) -> tuple[int, int]:
    u, v, _ = camera.project([x, y, z])
    return round(u * 16), round(v * 16)  # 4-bit sub-pixel coordinates


@lru_cache(maxsize=16)
def background_plate(width: int, height: int, seed: int = 0) -> Image:
    """The static booth background for a ``width`` x ``height`` camera (read-only array)."""
    camera = Camera(width, height)
    rng = np.random.default_rng([seed, 0xB007])
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    horizon = float(camera.project([0.0, 0.0, WALL_Z])[1])
    hue = float(rng.uniform(0, 1))
    # Wall: a muted colour, darker toward the top, brightened by a spotlight on the dancer.
    wall = _bgr(hue, 0.25, 0.55)
    spot_x, spot_y = (width - 1) / 2, horizon * 0.55
    r2 = ((xs - spot_x) / (0.45 * width)) ** 2 + ((ys - spot_y) / (0.6 * height)) ** 2
    light = 0.65 + 0.55 * np.exp(-r2) + 0.1 * (ys / height)
    img = wall[None, None, :] * light[..., None]
    # Floor: warm wood below the wall line, lit the same way, darker toward the camera.
    floor = _bgr(0.08 + rng.uniform(-0.02, 0.02), 0.5, 0.6)
    below = ys >= horizon
    fl = 1.05 * np.exp(-(((xs - spot_x) / (0.7 * width)) ** 2)) - 0.25 * (ys - horizon) / height
    img[below] = floor[None, :] * np.clip(fl[below], 0.3, 1.2)[:, None]
    img = np.clip(img, 0, 255).astype(np.uint8)
    _planks(img, camera, floor, rng)
    _banner(img, camera, hue, rng)
    grain = rng.normal(0.0, 3.0, img.shape)  # sensor-like grain, fixed for the plate
    img = np.clip(img.astype(np.float32) + grain, 0, 255).astype(np.uint8)
    img.setflags(write=False)
    return img


def _planks(img: Image, camera: Camera, floor: np.ndarray, rng: np.random.Generator) -> None:
    seam = tuple(int(c) for c in floor * 0.55)
    for x in np.arange(-4.0, 4.01, 0.25):  # boards run toward the camera
        cv2.line(
            img,
            _pixel(camera, x, 0, WALL_Z),
            _pixel(camera, x, 0, FLOOR_FRONT_Z),
            seam,
            1,
            cv2.LINE_AA,
            4,
        )
        for z in rng.uniform(WALL_Z, FLOOR_FRONT_Z, 2):  # board ends
            cv2.line(
                img,
                _pixel(camera, x, 0, z),
                _pixel(camera, x + 0.25, 0, z),
                seam,
                1,
                cv2.LINE_AA,
                4,
            )
    edge = tuple(int(c) for c in floor * 0.35)
    cv2.line(
        img,
        _pixel(camera, -5, 0, WALL_Z),
        _pixel(camera, 5, 0, WALL_Z),
        edge,
        max(1, img.shape[0] // 128),
        cv2.LINE_AA,
        4,
    )


def _banner(img: Image, camera: Camera, hue: float, rng: np.random.Generator) -> None:
    # A booth banner on the wall, with bars of "text": fixed detail for the GAN to learn.
    x0 = float(rng.uniform(-1.6, -0.9))
    top, bottom = 2.35, 1.95
    pts = [(x0, top), (x0 + 0.9, top), (x0 + 0.9, bottom), (x0, bottom)]
    poly = np.array([_pixel(camera, x, y, WALL_Z) for x, y in pts], dtype=np.int32)
    cv2.fillConvexPoly(img, poly, tuple(int(c) for c in _bgr(hue + 0.5, 0.7, 0.8)), cv2.LINE_AA, 4)
    ink = tuple(int(c) for c in _bgr(hue + 0.5, 0.3, 0.15))
    for i, width in enumerate((0.7, 0.5, 0.6)):
        y = top - 0.1 - i * 0.11
        a, b = _pixel(camera, x0 + 0.1, y, WALL_Z), _pixel(camera, x0 + 0.1 + width, y, WALL_Z)
        cv2.line(img, a, b, ink, max(1, img.shape[0] // 100), cv2.LINE_AA, 4)
