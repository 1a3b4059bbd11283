"""A video file as a frame source (anything OpenCV's FFmpeg backend reads)."""

from __future__ import annotations

from typing import Any

import cv2

from edge.frames import Frame
from edge.sources.base import FrameSource, Pacer, SourceError


class VideoFrameSource(FrameSource):
    """Frames of a file, scaled to the capture size, optionally looped, paced or not."""

    name = "video"

    def __init__(
        self, settings: Any, width: int, height: int, fps: float, duration_s: float | None = None
    ) -> None:
        super().__init__(width, height, fps)
        self.path = settings.path
        self.loop: bool = settings.loop
        self._pacer = Pacer(fps, settings.realtime)
        self.live = bool(settings.realtime)
        self._cap: Any = None
        self._seq = 0

    def open(self) -> None:
        if not self.path.is_file():
            raise SourceError(f"video file {self.path} does not exist: check source.path")
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise SourceError(f"cannot decode video file {self.path}: is it a video?")
        self._cap = cap

    def read(self) -> Frame | None:
        if self._cap is None:
            raise SourceError("video source read before open()")
        ok, image = self._cap.read()
        if not ok and self.loop and self._seq > 0:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._cap.read()
        if not ok or image is None:
            return None
        if image.shape[1] != self.width or image.shape[0] != self.height:
            image = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)
        frame = Frame(seq=self._seq, capture_ns=self._pacer.stamp(self._seq), image=image)
        self._seq += 1
        return self._delivered(frame)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
