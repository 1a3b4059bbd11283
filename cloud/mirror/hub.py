"""The newest mirror frame, handed to every viewer: each waits for a frame newer than the
one it has, and gets the newest there is. A viewer slower than the engine skips frames;
nothing is queued for it, so a slow WebSocket or MJPEG client costs memory for one frame.

The engine publishes from its own thread; viewers wait on their event loop (the
server's), woken with ``call_soon_threadsafe``. The hub also knows whether anyone is
watching (:meth:`FrameHub.watched`): with nobody, the engine does not run its generator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MirrorFrame:
    """One JPEG and what the page shows beside it."""

    jpeg: bytes
    present: bool  # False: the "step in to dance" card
    seq: int = 0
    capture_ns: int = 0
    keypoints_ms: float = 0.0
    glass_ms: float = 0.0
    aspect: float = 1.0  # the camera's width / height, for the skeleton inset
    skeleton: list[list[float]] = field(default_factory=list)  # [17][x/w, y/h, conf]
    index: int = 0  # set by the hub: 1, 2, 3, ...

    def header(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "present": self.present,
            "seq": self.seq,
            "capture_ns": self.capture_ns,
            "keypoints_ms": self.keypoints_ms,
            "glass_ms": self.glass_ms,
            "aspect": round(self.aspect, 4),
            "skeleton": self.skeleton,
        }

    def message(self) -> bytes:
        """The WebSocket message: header length (u32 LE), the header as JSON, the JPEG."""
        head = json.dumps(self.header(), separators=(",", ":")).encode()
        return struct.pack("<I", len(head)) + head + self.jpeg


def parse_message(data: bytes) -> tuple[dict[str, Any], bytes]:
    """Split a WebSocket message back into header and JPEG (tests and the benchmark)."""
    (n,) = struct.unpack_from("<I", data)
    return json.loads(data[4 : 4 + n]), data[4 + n :]


# A single-frame request (``/mirror/frame.jpg``) counts as watching for this long: a
# client polling frames keeps the generator running.
GLANCE_S = 3.0


class FrameHub:
    """Holds the newest frame; wakes the viewers waiting for one."""

    def __init__(self) -> None:
        self._frame: MirrorFrame | None = None
        self._count = 0
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.viewers = 0  # connected streams (WebSocket, MJPEG)
        self._glanced = -float("inf")

    @contextlib.contextmanager
    def viewer(self) -> Iterator[None]:
        """A stream's lifetime: the mirror renders while at least one is open."""
        with self._lock:
            self.viewers += 1
        try:
            yield
        finally:
            with self._lock:
                self.viewers -= 1

    def glance(self) -> MirrorFrame | None:
        """The newest frame for a one-off request, which keeps the mirror rendering for
        :data:`GLANCE_S`."""
        self._glanced = time.monotonic()
        return self._frame

    def watched(self) -> bool:
        """Whether anyone looks: an open stream, or a glance in the last :data:`GLANCE_S`."""
        return self.viewers > 0 or time.monotonic() - self._glanced < GLANCE_S

    def publish(self, frame: MirrorFrame) -> MirrorFrame:
        with self._lock:
            self._count += 1
            frame = MirrorFrame(**{**frame.__dict__, "index": self._count})
            self._frame = frame
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # its loop closed meanwhile
                loop.call_soon_threadsafe(event.set)
        return frame

    def latest(self) -> MirrorFrame | None:
        return self._frame

    async def newer_than(self, index: int, timeout_s: float = 1.0) -> MirrorFrame | None:
        """The newest frame once there is one after ``index``; None after ``timeout_s``."""
        event = asyncio.Event()
        key = (asyncio.get_running_loop(), event)
        with self._lock:
            self._waiters.add(key)
        try:
            frame = self._frame
            if frame is None or frame.index <= index:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout_s)
                frame = self._frame
            return frame if frame is not None and frame.index > index else None
        finally:
            with self._lock:
                self._waiters.discard(key)
