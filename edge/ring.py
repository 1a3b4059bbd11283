"""The frame ring: a bounded hand-off from the capture thread that never blocks it.

A full ring drops the *incoming* frame (the frames already queued stay in order),
counts it and remembers its sequence number, so the end-of-capture manifest can
list exactly which frames were never spooled.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator

from edge.frames import Frame


class FrameRing:
    """A bounded FIFO of frames: :meth:`put` never waits, :meth:`get` may."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("ring capacity must be at least 1")
        self.capacity = capacity
        self._items: deque[Frame] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self.dropped: list[int] = []
        self.high_water = 0

    def put(self, frame: Frame) -> bool:
        """Queue ``frame``; if the ring is full, count it as dropped and return False."""
        with self._cond:
            if self._closed:
                raise RuntimeError("put on a closed frame ring")
            if len(self._items) >= self.capacity:
                self.dropped.append(frame.seq)
                return False
            self._items.append(frame)
            self.high_water = max(self.high_water, len(self._items))
            self._cond.notify_all()
            return True

    def put_wait(self, frame: Frame) -> None:
        """Queue ``frame``, waiting for room: only for sources that are not live, where
        waiting loses nothing (a file or a synthetic dancer rendered as fast as possible)."""
        with self._cond:
            self._cond.wait_for(lambda: len(self._items) < self.capacity or self._closed)
            if self._closed:
                raise RuntimeError("put on a closed frame ring")
            self._items.append(frame)
            self.high_water = max(self.high_water, len(self._items))
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> Frame | None:
        """The oldest frame; None once the ring is closed and empty, or on timeout."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout):
                return None
            frame = self._items.popleft() if self._items else None
            self._cond.notify_all()  # room for a waiting put_wait
            return frame

    def close(self) -> None:
        """No more frames will come; consumers drain what is left, then get None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def drain(self) -> Iterator[Frame]:
        """Every frame until the ring is closed and empty."""
        while True:
            frame = self.get()
            if frame is None:
                return
            yield frame
