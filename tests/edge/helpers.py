"""Small real implementations used by the edge tests: a frame source and a pose estimator."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from edge.frames import Frame, Keypoints
from edge.pose.base import Person, PoseEstimator
from edge.sources.base import FrameSource, Pacer

# A standing figure in a 1x1 box (x, y), COCO order.
_STANDING = np.array(
    [
        [0.5, 0.1],
        [0.47, 0.08],
        [0.53, 0.08],
        [0.44, 0.1],
        [0.56, 0.1],
        [0.4, 0.25],
        [0.6, 0.25],
        [0.35, 0.4],
        [0.65, 0.4],
        [0.33, 0.55],
        [0.67, 0.55],
        [0.43, 0.55],
        [0.57, 0.55],
        [0.43, 0.75],
        [0.57, 0.75],
        [0.43, 0.95],
        [0.57, 0.95],
    ],
    dtype=np.float32,
)


def standing(width: int, height: int, shift: float = 0.0) -> np.ndarray:
    kps = np.ones((17, 3), dtype=np.float32)
    kps[:, 0] = (_STANDING[:, 0] + shift) * width
    kps[:, 1] = _STANDING[:, 1] * height
    return kps


class PatternSource(FrameSource):
    """Frames of noise-free gradients with a moving bar and truth keypoints."""

    name = "pattern"

    def __init__(
        self,
        width: int = 64,
        height: int = 48,
        fps: float = 30.0,
        count: int | None = None,
        realtime: bool = False,
    ) -> None:
        super().__init__(width, height, fps)
        self.count = count
        self._pacer = Pacer(fps, realtime)
        self.live = realtime
        self._i = 0
        self.closed = False

    def open(self) -> None:
        self.closed = False

    def read(self) -> Frame | None:
        if self.count is not None and self._i >= self.count:
            return None
        image = np.zeros((self.height, self.width, 3), dtype=np.uint8)
        image[:, :, 1] = np.linspace(0, 255, self.width, dtype=np.uint8)
        x = self._i % self.width
        image[:, x : x + 3, 2] = 255
        truth = standing(self.width, self.height, 0.1 * np.sin(self._i / 10))
        frame = Frame(self._i, self._pacer.stamp(self._i), image, truth=truth)
        self._i += 1
        return self._delivered(frame)

    def close(self) -> None:
        self.closed = True


class TruthEstimator(PoseEstimator):
    """Reports the frame's ground truth as one person (or nobody without truth)."""

    name = "truth"

    def __init__(self, delay_s: float = 0.0) -> None:
        self.calls = 0
        self.delay_s = delay_s  # a slow backend, for backlog tests

    def estimate(self, frame: Frame) -> list[Person]:
        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        if frame.truth is None:
            return []
        return [Person(keypoints=np.asarray(frame.truth, dtype=np.float32).copy(), score=1.0)]


def write_video(
    path: Path, frames: int, width: int = 64, height: int = 48, fps: float = 30.0
) -> Path:
    """An MJPG .avi whose frame i shows a bar at x = i."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened()
    source = PatternSource(width, height, fps, count=frames)
    while (frame := source.read()) is not None:
        writer.write(frame.image)
    writer.release()
    return path


class Unchanged:
    """A keypoint stage that returns the backend's keypoints as they are."""

    def process(
        self, keypoints: Keypoints, extras: Keypoints, t_s: float
    ) -> tuple[Keypoints, Keypoints, int]:
        return keypoints, extras, 0

    def reset(self) -> None:
        pass
