"""A tiny stand-in dancer for training tests: keypoints that swing, a body drawn from them."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from protocol.masks import mask_shape
from protocol.shards import FrameMeta, ShardWriter, shard_key
from protocol.skeleton import KP

# Standing pose in units of body height, origin at the hip midpoint (x right, y down).
_REST = {
    "nose": (0.0, -0.55),
    "left_eye": (0.03, -0.58),
    "right_eye": (-0.03, -0.58),
    "left_ear": (0.06, -0.56),
    "right_ear": (-0.06, -0.56),
    "left_shoulder": (0.12, -0.38),
    "right_shoulder": (-0.12, -0.38),
    "left_elbow": (0.17, -0.2),
    "right_elbow": (-0.17, -0.2),
    "left_wrist": (0.2, -0.03),
    "right_wrist": (-0.2, -0.03),
    "left_hip": (0.08, 0.0),
    "right_hip": (-0.08, 0.0),
    "left_knee": (0.09, 0.24),
    "right_knee": (-0.09, 0.24),
    "left_ankle": (0.1, 0.47),
    "right_ankle": (-0.1, 0.47),
}


def keypoints(t: float, width: int, height: int, *, shift: float = 0.0) -> np.ndarray:
    """``[17, 3]`` pixels: arms wave, the body sways, all confident."""
    scale = height * 0.7
    cx, cy = width * (0.5 + shift) + 0.05 * width * math.sin(t * 0.7), height * 0.52
    out = np.zeros((17, 3), np.float32)
    for name, (x, y) in _REST.items():
        if "elbow" in name or "wrist" in name:
            side = 1 if name.startswith("left") else -1
            reach = 1.0 if "wrist" in name else 0.5
            y -= reach * 0.3 * (1 + math.sin(t + side)) / 2
            x += side * reach * 0.08 * math.cos(t)
        out[KP[name]] = (cx + x * scale, cy + y * scale, 0.95)
    return out


def render(
    kps: np.ndarray, width: int, height: int, palette: int, *, mask: bool = False
) -> np.ndarray:
    """The dancer over a gradient; with ``mask``, the same drawing as a one-channel
    255-on-0 person mask (unblurred, at the frame's size)."""
    rng = np.random.default_rng(palette)
    bg = rng.integers(40, 200, 3)
    img = np.empty((height, width, 3), np.uint8)
    img[:] = (np.linspace(0.6, 1.0, height)[:, None, None] * bg).astype(np.uint8)
    shirt, pants = (tuple(int(c) for c in rng.integers(0, 255, 3)) for _ in range(2))
    if mask:
        img = np.zeros((height, width), np.uint8)
        shirt = pants = (255, 255, 255)
    p = {n: (int(kps[i, 0]), int(kps[i, 1])) for n, i in KP.items()}
    t = max(2, height // 25)
    torso = np.array([p["left_shoulder"], p["right_shoulder"], p["right_hip"], p["left_hip"]])
    cv2.fillConvexPoly(img, torso, shirt)
    for a, b, c in [
        ("left_shoulder", "left_elbow", shirt),
        ("left_elbow", "left_wrist", shirt),
        ("right_shoulder", "right_elbow", shirt),
        ("right_elbow", "right_wrist", shirt),
        ("left_hip", "left_knee", pants),
        ("left_knee", "left_ankle", pants),
        ("right_hip", "right_knee", pants),
        ("right_knee", "right_ankle", pants),
    ]:
        cv2.line(img, p[a], p[b], c, t * 2)
    cv2.circle(img, p["nose"], t * 3, (255, 255, 255) if mask else (150, 180, 220), -1)
    return img if mask else cv2.GaussianBlur(img, (3, 3), 0)


def write_session(
    root: Path,
    session: str,
    *,
    frames: int = 24,
    width: int = 160,
    height: int = 120,
    palette: int = 1,
    node: str = "n1",
    shift: float = 0.0,
    masks: bool = False,
) -> Path:
    """A session's shard; with ``masks``, each frame with its person mask (the drawing's
    silhouette at :func:`~protocol.masks.mask_shape`)."""
    path = root / shard_key(session, node, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with ShardWriter(path) as w:
        for i in range(frames):
            kps = keypoints(i * 0.4, width, height, shift=shift)
            ok, jpeg = cv2.imencode(".jpg", render(kps, width, height, palette))
            assert ok
            meta = FrameMeta(
                session=session,
                node=node,
                seq=i,
                capture_ns=i * 33_000_000,
                width=width,
                height=height,
                keypoints=[tuple(map(float, k)) for k in kps],
            )
            mask = None
            if masks:
                mh, mw = mask_shape(width, height)
                full = render(kps, width, height, palette, mask=True)
                mask = cv2.resize(full, (mw, mh), interpolation=cv2.INTER_AREA)
            w.add(meta, jpeg.tobytes(), mask)
    return path
