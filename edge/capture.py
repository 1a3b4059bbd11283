"""A capture run: a source read by its own thread into the ring, then JPEG-encoded into the spool.

Two threads per capture, so reading the camera never waits for anything::

    capture thread:  source.read() -> stamp session seq -> ring.put (full ring: dropped;
                     a source that is not live waits for room instead)
    spool thread:    ring.get -> JPEG (fits a packet) -> spool.add_frame (full spool: dropped)

Pose estimation and publishing read the spool on their own schedule. A capture
ends at the first frame whose capture time is ``duration_s`` past the first one,
when the source runs out, or on :meth:`CaptureRun.stop`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.frames import Frame, Image
from edge.ring import FrameRing
from edge.sources.base import FpsMeter, FrameSource, SourceError
from edge.spool import Spool, SpoolFullError
from protocol.codec import HEADER_BYTES, MASK_ROOM_BYTES, MAX_PACKET_BYTES
from protocol.masks import encode_mask
from protocol.skeleton import NUM_EXTRA_KEYPOINTS, NUM_KEYPOINTS

logger = logging.getLogger(__name__)

# Room a packet needs besides its JPEG: header, two ids, 21 keypoints, the mask, CRC.
_PACKET_OVERHEAD = (
    HEADER_BYTES + 2 * 64 + 12 * (NUM_KEYPOINTS + NUM_EXTRA_KEYPOINTS) + MASK_ROOM_BYTES + 4
)
JPEG_BUDGET = MAX_PACKET_BYTES - _PACKET_OVERHEAD


class EncodeError(RuntimeError):
    """A frame that cannot become a JPEG small enough for one packet."""


class JpegEncoder:
    """JPEG at the configured quality, stepping the quality down when a frame is too big
    for one packet (busy scenes at high resolution), never dropping it silently."""

    def __init__(self, quality: int, budget: int = JPEG_BUDGET) -> None:
        self.quality = quality
        self.budget = budget
        self.reencoded = 0
        self.count = 0
        self.bytes_out = 0

    def encode(self, image: Image) -> bytes:
        quality = self.quality
        while True:
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                raise EncodeError(f"OpenCV could not encode a {image.shape} frame as JPEG")
            if len(buf) <= self.budget:
                self.count += 1
                self.bytes_out += len(buf)
                return buf.tobytes()
            if quality <= 10:
                raise EncodeError(
                    f"a {image.shape[1]}x{image.shape[0]} frame needs {len(buf)} bytes even at"
                    f" JPEG quality 10 (limit {self.budget}): lower capture.width/height"
                )
            self.reencoded += 1
            quality = max(10, quality - 15)


def truth_bytes(frame: Frame) -> bytes | None:
    """Ground-truth keypoints (and extras) as little-endian float32 rows, if the frame has
    them, followed by the PNG of its exact person mask if it has one (see
    :func:`edge.annotator.decode_frame`)."""
    if frame.truth is None:
        return None
    parts = [np.asarray(frame.truth, dtype="<f4").reshape(-1, 3)]
    if frame.truth_extras is not None:
        parts.append(np.asarray(frame.truth_extras, dtype="<f4").reshape(-1, 3))
    rows = np.concatenate(parts).tobytes()
    return rows if frame.truth_mask is None else rows + encode_mask(frame.truth_mask)


@dataclass
class CaptureResult:
    session: str
    seq_count: int
    dropped: list[int]
    fps: float
    started_at: float
    ended_at: float
    error: str | None = None


@dataclass
class CaptureCounters:
    """Live figures of the running capture, read by the stats reporter."""

    meter: FpsMeter = field(default_factory=FpsMeter)
    captured: int = 0
    dropped: int = 0


class CaptureRun:
    """One session's capture; :meth:`start` it, then :meth:`wait` for its result."""

    def __init__(
        self,
        source: FrameSource,
        spool: Spool,
        session: str,
        *,
        duration_s: float,
        ring_frames: int,
        jpeg_quality: int,
        on_spooled: Callable[[str, Frame], None] | None = None,
    ) -> None:
        self.source, self.spool, self.session = source, spool, session
        self.duration_ns = round(duration_s * 1e9)
        self.ring = FrameRing(ring_frames)
        self.encoder = JpegEncoder(jpeg_quality)
        self.on_spooled = on_spooled
        self.counters = CaptureCounters()
        self._stop = threading.Event()
        self._spool_dropped: list[int] = []
        self._seq_count = 0
        self._first_ns = 0
        self._last_ns = 0
        self._error: str | None = None
        self._threads: list[threading.Thread] = []
        self._cancelled = False

    def start(self) -> None:
        """Record the capture in the spool and start both threads (source already open)."""
        self.spool.begin_capture(
            self.session, self.source.width, self.source.height, self.source.fps, time.time()
        )
        for target, name in ((self._capture, "capture"), (self._store, "spool-writer")):
            thread = threading.Thread(target=target, name=f"{name}-{self.session}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()

    def cancel(self) -> None:
        """Stop without closing the capture in the spool: a closed capture is ready to be
        announced (its manifest sent), and a cancelled one must never be."""
        self._cancelled = True
        self._stop.set()

    def wait(self, timeout: float | None = None) -> CaptureResult | None:
        """Wait for the capture to end and be spooled; close it in the spool (unless cancelled)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                return None
        result = self._result()
        if self._cancelled:
            return result
        self.spool.end_capture(
            self.session, result.ended_at, result.seq_count, result.dropped, result.fps
        )
        return result

    def _result(self) -> CaptureResult:
        span = (self._last_ns - self._first_ns) / 1e9
        fps = (self._seq_count - 1) / span if self._seq_count > 1 and span > 0 else self.source.fps
        return CaptureResult(
            session=self.session,
            seq_count=self._seq_count,
            dropped=sorted(self.ring.dropped + self._spool_dropped),
            fps=fps,
            started_at=self._first_ns / 1e9,
            ended_at=self._last_ns / 1e9,
            error=self._error,
        )

    def _capture(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self.source.read()
                if frame is None:
                    break
                if self._seq_count == 0:
                    self._first_ns = frame.capture_ns
                elif frame.capture_ns - self._first_ns >= self.duration_ns:
                    break
                frame.seq = self._seq_count
                self._seq_count += 1
                self._last_ns = frame.capture_ns
                self.counters.meter.tick()
                if not self.source.live:
                    self.ring.put_wait(frame)
                    self.counters.captured += 1
                elif self.ring.put(frame):
                    self.counters.captured += 1
                else:
                    self.counters.dropped += 1
        except SourceError as exc:
            logger.error("capture %s: %s", self.session, exc)
            self._error = str(exc)
        finally:
            self.ring.close()
            self.source.close()

    def _store(self) -> None:
        for frame in self.ring.drain():
            try:
                jpeg = self.encoder.encode(frame.image)
                self.spool.add_frame(
                    self.session,
                    frame.seq,
                    frame.capture_ns,
                    frame.width,
                    frame.height,
                    jpeg,
                    truth_bytes(frame),
                )
            except (SpoolFullError, EncodeError) as exc:
                if not self._spool_dropped:
                    logger.error("capture %s: frame %d dropped: %s", self.session, frame.seq, exc)
                self._spool_dropped.append(frame.seq)
                self.counters.dropped += 1
                continue
            if self.on_spooled is not None:
                self.on_spooled(self.session, frame)
