"""The frame-source interface: where a node's frames come from (camera, file, synthetic).

A source delivers BGR frames of the requested size, each stamped with its capture
time. Live sources are paced by their hardware; file and synthetic sources either
pace themselves to the requested fps (``realtime``) or run as fast as they can with
timestamps on an ideal ``1/fps`` timeline (tests and benchmarks).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import deque
from typing import ClassVar

from edge.frames import Frame


class SourceError(RuntimeError):
    """A source cannot deliver frames; the message says what to check."""


class FrameSource(ABC):
    """Implementers provide :meth:`open` and :meth:`read`; :meth:`close` releases devices.

    ``read`` returns the next frame (``seq`` counting from 0 in this source) or None
    when the source is exhausted. It may block until the frame exists (a camera),
    but never longer than about one frame interval.
    """

    name: ClassVar[str]
    # A live source's frames happen whether or not we read them (a camera, a paced
    # replay): capture must never wait. A source that is not live only produces a
    # frame when asked, so capture may wait for room instead of dropping.
    live: bool = True

    def __init__(self, width: int, height: int, fps: float) -> None:
        self.width, self.height, self.fps = width, height, fps
        self._meter = FpsMeter()

    @abstractmethod
    def open(self) -> None:
        """Acquire the device or file; raise :class:`SourceError` if it cannot be used."""

    @abstractmethod
    def read(self) -> Frame | None:
        """The next frame, or None at the end."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the device or file."""

    @property
    def delivered_fps(self) -> float:
        """Frames per second actually delivered recently (0 before two frames)."""
        return self._meter.rate()

    def _delivered(self, frame: Frame) -> Frame:
        self._meter.tick()
        return frame

    def __enter__(self) -> FrameSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FpsMeter:
    """Events per second over a sliding window of the last ``window`` events."""

    def __init__(self, window: int = 60) -> None:
        self._times: deque[float] = deque(maxlen=window)

    def tick(self, now: float | None = None) -> None:
        self._times.append(time.monotonic() if now is None else now)

    def rate(self, now: float | None = None) -> float:
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        # A stalled source must read as slow, not keep its last good figure.
        idle = (time.monotonic() if now is None else now) - self._times[-1]
        span = max(span, 1e-9) + max(0.0, idle - span / (len(self._times) - 1))
        return (len(self._times) - 1) / span


class Pacer:
    """Timestamps frame ``i`` of a file/synthetic source, sleeping to it when ``realtime``."""

    def __init__(self, fps: float, realtime: bool) -> None:
        self.fps = fps
        self.realtime = realtime
        self._t0_ns = 0
        self._mono0 = 0.0

    def stamp(self, i: int) -> int:
        """The capture time of frame ``i`` (ns since the epoch), after waiting for it.

        The timeline starts at the first call, so opening a source early (before a
        shared start time) does not shift it."""
        if not self._t0_ns:
            self._t0_ns = time.time_ns() - round(i * 1e9 / self.fps)
            self._mono0 = time.monotonic() - i / self.fps
        if self.realtime:
            delay = self._mono0 + i / self.fps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        # Computed per frame, not accumulated, so a 15 s capture has exactly 15 s of frames.
        return self._t0_ns + round(i * 1e9 / self.fps)
