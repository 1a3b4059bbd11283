"""Live keypoints for the mirror's tests: a synthetic dancer's poses as the node sends them."""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from cloud.mirror.hub import FrameHub
from protocol.live import LiveKeypoints
from protocol.skeleton import KP, NUM_KEYPOINTS

W, H = 640, 480


def standing(
    cx: float = 320.0, top: float = 80.0, height: float = 320.0, wave: float = 0.0
) -> npt.NDArray[np.float32]:
    """A COCO-17 standing figure, head at ``top``, ``height`` px tall, arms raised by ``wave``."""
    kps = np.zeros((NUM_KEYPOINTS, 3), np.float32)
    u = height / 8

    def put(name: str, dx: float, dy: float) -> None:
        kps[KP[name]] = (cx + dx * u, top + dy * u, 0.9)

    put("nose", 0, 0.4)
    put("left_eye", 0.15, 0.25)
    put("right_eye", -0.15, 0.25)
    put("left_ear", 0.3, 0.35)
    put("right_ear", -0.3, 0.35)
    put("left_shoulder", 0.8, 1.5)
    put("right_shoulder", -0.8, 1.5)
    put("left_elbow", 1.2, 2.6 - wave)
    put("right_elbow", -1.2, 2.6 - wave)
    put("left_wrist", 1.4, 3.6 - 2 * wave)
    put("right_wrist", -1.4, 3.6 - 2 * wave)
    put("left_hip", 0.5, 4.2)
    put("right_hip", -0.5, 4.2)
    put("left_knee", 0.55, 6.0)
    put("right_knee", -0.55, 6.0)
    put("left_ankle", 0.6, 7.8)
    put("right_ankle", -0.6, 7.8)
    return kps


def live(
    seq: int,
    kps: npt.NDArray[np.float32] | None = None,
    *,
    capture_ns: int | None = None,
    people: int = 1,
) -> LiveKeypoints:
    seen = kps if kps is not None else standing(wave=float(np.sin(seq / 5)))
    if people == 0:
        seen = np.zeros((NUM_KEYPOINTS, 3), np.float32)
    now = time.time_ns() if capture_ns is None else capture_ns
    return LiveKeypoints(seq, now, W, H, seen, people=people, publish_ns=now)


def watched(hub: FrameHub | None = None) -> FrameHub:
    """A hub with a viewer that never leaves: its engine renders every pose."""
    hub = hub or FrameHub()
    hub.viewers += 1
    return hub
