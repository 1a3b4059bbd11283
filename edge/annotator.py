"""The annotator: turns spooled frames into frame packets (pose → dancer → repair/smoothing).

It runs in its own thread behind the capture, reading the spool in capture order,
so a pose backend slower than the camera delays packets but never drops frames.
Frames the capture has just spooled are taken from a small in-memory cache; older
ones (after a restart, or when pose lags far behind) are decoded from their JPEG.

Each packet carries the dancer's person mask (:mod:`protocol.masks`) when the pose
backend gave one, else (MoveNet, PoseNet) one cut from the clean plate by differencing
(:func:`edge.masking.mask_from_plate`) when the node has a plate of the camera's size;
a frame without one, with an all-zero one or with one too large for
its room in the packet is sent without and counted (``PoseCounters.unmasked``): the
cloud trains those frames full-frame.

Failures are counted (``PoseCounters``, reported in the node's stats) and logged at
most once per ``REPORT_EVERY_S`` each: a pose-backend error makes its frame "nobody
seen"; a spooled JPEG that does not decode is quarantined and listed as lost in the
capture's manifest (:meth:`~edge.spool.Spool.quarantine_frame`), so it cannot stall
the frames behind it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from common.throttle import Throttle
from edge.frames import Frame, Image, Keypoints
from edge.keypoints import KeypointStage, StageFactory, sanitize
from edge.live import LiveStream
from edge.masking import mask_from_plate
from edge.offline import OfflinePass, raw_bytes
from edge.pose.base import Person, PoseEstimator
from edge.pose.tracking import DancerTracker
from edge.sources.base import FpsMeter
from edge.spool import CapturedFrame, Spool, SpoolError
from protocol.codec import MASK_ROOM_BYTES, FramePacket, encode_packet
from protocol.errors import MaskError, PacketError
from protocol.masks import (
    PNG_SIGNATURE,
    Mask,
    blank_mask,
    check_mask_shape,
    decode_mask,
    encode_mask,
    mask_shape,
)
from protocol.skeleton import NUM_EXTRA_KEYPOINTS, NUM_KEYPOINTS

logger = logging.getLogger(__name__)

Key = tuple[str, int]
PreviewHook = Callable[[Frame, Keypoints], None]
REPORT_EVERY_S = 10.0


@dataclass
class PoseCounters:
    meter: FpsMeter
    inference_ms: float = 0.0  # exponentially weighted mean
    people_seen: int = 0
    annotated: int = 0
    failures: int = 0  # pose-backend errors
    lost: int = 0  # spooled frames that did not decode (quarantined)
    unmasked: int = 0  # frames sent without a person mask
    mask_ms: float = 0.0  # PNG-encoding a mask, exponentially weighted mean


class FrameCache:
    """The last ``capacity`` spooled frames, so pose does not decode what capture just encoded."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[Key, Frame] = OrderedDict()
        self._lock = threading.Lock()

    def offer(self, session: str, frame: Frame) -> None:
        with self._lock:
            self._items[(session, frame.seq)] = frame
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def take(self, key: Key) -> Frame | None:
        with self._lock:
            return self._items.pop(key, None)


class UndecodableFrameError(ValueError):
    """A spooled frame's bytes do not make a frame."""


def decode_frame(row: CapturedFrame) -> Frame:
    """Rebuild a frame (pixels and ground truth) from its spool row."""
    where = f"spooled frame {row.session}/{row.seq}"
    try:
        image = cv2.imdecode(np.frombuffer(row.jpeg, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:  # e.g. an empty buffer
        raise UndecodableFrameError(f"{where}: the JPEG does not decode ({exc})") from None
    if image is None:
        raise UndecodableFrameError(f"{where}: the JPEG does not decode")
    truth = extras = mask = None
    if row.truth:
        rows, png = _split_truth(row.truth)
        if len(rows) % 12:
            raise UndecodableFrameError(f"{where}: {len(row.truth)} bytes of ground truth")
        allk = np.frombuffer(rows, "<f4").reshape(-1, 3).astype(np.float32)
        truth, extras = allk[:NUM_KEYPOINTS], allk[NUM_KEYPOINTS:]
        try:
            mask = None if png is None else decode_mask(png, row.width, row.height)
        except MaskError as exc:
            raise UndecodableFrameError(f"{where}: its person mask: {exc}") from None
    pixels = np.asarray(image, dtype=np.uint8)
    return Frame(row.seq, row.capture_ns, pixels, truth=truth, truth_extras=extras, truth_mask=mask)


def _split_truth(blob: bytes) -> tuple[bytes, bytes | None]:
    """Keypoint rows (17 or 21 of 12 bytes) and the mask PNG after them, if any."""
    for n in (NUM_KEYPOINTS + NUM_EXTRA_KEYPOINTS, NUM_KEYPOINTS):
        if blob[12 * n : 12 * n + len(PNG_SIGNATURE)] == PNG_SIGNATURE:
            return blob[: 12 * n], blob[12 * n :]
    return blob, None


class Annotator:
    """Long-lived worker: every CAPTURED frame in the spool becomes a READY packet."""

    def __init__(
        self,
        spool: Spool,
        estimator: PoseEstimator,
        stages: StageFactory,
        node: str,
        *,
        cache_frames: int = 64,
        preview: PreviewHook | None = None,
        on_ready: Callable[[], None] | None = None,
        offline: OfflinePass | None = None,
        report_every_s: float = REPORT_EVERY_S,
        plate: Callable[[], Image | None] | None = None,
        live: LiveStream | None = None,
    ) -> None:
        self.spool, self.estimator, self.stages, self.node = spool, estimator, stages, node
        self.plate = plate  # the clean plate, for backends without a mask (MoveNet, PoseNet)
        self.cache = FrameCache(cache_frames)
        self.preview, self.on_ready, self.offline = preview, on_ready, offline
        self.live = live  # every annotated frame's keypoints also go out live
        self.counters = PoseCounters(FpsMeter())
        self._failure_reports = Throttle(report_every_s)
        self._lost_reports = Throttle(report_every_s)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.tracker = DancerTracker()
        self._estimator_lock = threading.Lock()  # shared with estimate_aside (plate watch)
        self._session: str | None = None
        self._stage: KeypointStage | None = None
        self._flags = 0
        self._t0_ns = 0
        self._thread = threading.Thread(target=self._loop, name="annotator", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def offer(self, session: str, frame: Frame) -> None:
        """A frame was just spooled (called from the capture's spool thread)."""
        self.cache.offer(session, frame)
        self._wake.set()

    def run_once(self, limit: int = 32) -> int:
        """Annotate up to ``limit`` waiting frames; return how many."""
        rows = self.spool.captured(limit)
        for row in rows:
            self._annotate(row)
        released = self.offline.run() if self.offline is not None and not rows else 0
        if (rows or released) and self.on_ready is not None:
            self.on_ready()
        return len(rows) + released

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.run_once() == 0:
                    self._wake.wait(0.2)
                    self._wake.clear()
            except Exception:  # keep annotating later frames; this one stays spooled
                logger.exception("annotator failed; retrying in 1 s")
                self._stop.wait(1.0)

    def _begin_session(self, session: str) -> None:
        record = self.spool.capture(session)
        fps = record.fps if record is not None else 30.0
        self._stage, self._flags = self.stages(fps)
        self.estimator.reset()
        self.tracker.reset()
        self._session = session
        self._t0_ns = 0

    def _annotate(self, row: CapturedFrame) -> None:
        if row.session != self._session or self._stage is None:
            self._begin_session(row.session)
        assert self._stage is not None
        frame = self.cache.take((row.session, row.seq))
        if frame is None:
            try:
                frame = decode_frame(row)
            except UndecodableFrameError as exc:
                self._quarantine(row, str(exc))
                return
        self._t0_ns = self._t0_ns or row.capture_ns
        start = time.perf_counter()
        people = self._estimate(frame, row)
        ms = (time.perf_counter() - start) * 1e3
        c = self.counters
        c.inference_ms = ms if c.annotated == 0 else 0.9 * c.inference_ms + 0.1 * ms
        selection = self.tracker.select(people, row.width, row.height)
        dancer = selection.person
        kps = np.zeros((NUM_KEYPOINTS, 3), np.float32) if dancer is None else dancer.keypoints
        extras = np.zeros((0, 3), np.float32) if dancer is None else dancer.extras
        t_s = (row.capture_ns - self._t0_ns) / 1e9
        kps, extras = sanitize(kps, row.width, row.height), sanitize(extras, row.width, row.height)
        raw = raw_bytes(kps, extras) if self.offline is not None else None
        mask = None if dancer is None else dancer.mask
        if dancer is not None and mask is None:
            mask = self._plate_mask(frame, kps)
        kps, extras, imputed = self._stage.process(kps, extras, t_s)
        packet = FramePacket(
            session=row.session,
            node=self.node,
            seq=row.seq,
            capture_ns=row.capture_ns,
            width=row.width,
            height=row.height,
            keypoints=sanitize(kps, row.width, row.height),
            jpeg=row.jpeg,
            extras=sanitize(extras, row.width, row.height),
            imputed=imputed,
            ready_ns=time.time_ns(),
            flags=self._flags,
            people=min(selection.people_seen, 255),
            mask=self._mask_png(mask, row),
        )
        try:
            self.spool.set_packet(
                row.session, row.seq, self._encode(packet), raw=raw, hold=self.offline is not None
            )
        except SpoolError:  # the capture was cancelled (deleted) meanwhile
            logger.debug("frame %s/%d vanished from the spool", row.session, row.seq)
            return
        c.meter.tick()
        c.annotated += 1
        c.people_seen = selection.people_seen
        if self.live is not None:
            self.live.offer(
                row.capture_ns,
                row.width,
                row.height,
                packet.keypoints,
                selection.people_seen,
                capturing=True,
            )
        if self.preview is not None:
            self.preview(frame, packet.keypoints)

    def pending(self) -> bool:
        """Whether spooled frames wait for their keypoints."""
        return bool(self.spool.captured(1))

    def estimate_aside(self, frame: Frame, fresh: bool = True) -> list[Person]:
        """Run the pose backend on a frame outside any capture (the booth watch): on a
        fresh state when ``fresh`` (the first frame the watch looks at, or every one when
        frames are seconds apart), and the next capture frame starts its session afresh."""
        with self._estimator_lock:
            if fresh:
                self.estimator.reset()
            try:
                return self.estimator.estimate(frame)
            finally:
                self._session = None

    def _plate_mask(self, frame: Frame, kps: Keypoints) -> Mask | None:
        """The dancer by clean-plate differencing (edge.masking), when a plate of this
        camera size exists; None otherwise (the frame goes without a mask, counted)."""
        plate = self.plate() if self.plate is not None else None
        if plate is None or plate.shape != frame.image.shape:
            return None
        h, w = mask_shape(frame.width, frame.height)
        return mask_from_plate(frame.image, plate, kps, size=(w, h))

    def _mask_png(self, mask: Mask | None, row: CapturedFrame) -> bytes | None:
        """The dancer's mask as the packet carries it, or None (counted)."""
        c = self.counters
        png = None
        if not blank_mask(mask):
            assert mask is not None
            try:
                check_mask_shape(mask.shape, row.width, row.height)
                start = time.perf_counter()
                png = encode_mask(mask)
                ms = (time.perf_counter() - start) * 1e3
                c.mask_ms = ms if c.mask_ms == 0 else 0.9 * c.mask_ms + 0.1 * ms
            except MaskError as exc:
                logger.debug("mask of %s/%d unusable: %s", row.session, row.seq, exc)
            if png is not None and len(png) > MASK_ROOM_BYTES:
                logger.debug(
                    "mask of %s/%d is %d bytes: sent without", row.session, row.seq, len(png)
                )
                png = None
        if png is None:
            c.unmasked += 1
        return png

    def _estimate(self, frame: Frame, row: CapturedFrame) -> list[Person]:
        try:
            with self._estimator_lock:
                return self.estimator.estimate(frame)
        except Exception as exc:
            self.counters.failures += 1
            held = self._failure_reports.allow()
            if held == 0 and self.counters.failures == 1:
                logger.exception("pose backend failed on %s/%d", row.session, row.seq)
            elif held is not None:
                logger.error(
                    "pose backend failed on %s/%d: %s (%d failures so far, %d since the last"
                    " report); those frames are sent with nobody seen",
                    row.session,
                    row.seq,
                    exc,
                    self.counters.failures,
                    held + 1,
                )
            return []

    def _quarantine(self, row: CapturedFrame, reason: str) -> None:
        where = self.spool.quarantine_frame(row.session, row.seq, reason)
        if where is None:  # cancelled (deleted) meanwhile
            return
        self.counters.lost += 1
        held = self._lost_reports.allow()
        if held is not None:
            logger.error(
                "%s; quarantined (%s) and listed as lost in the manifest (%d lost so far, %d"
                " since the last report)",
                reason,
                where,
                self.counters.lost,
                held + 1,
            )

    def _encode(self, packet: FramePacket) -> bytes:
        try:
            return encode_packet(packet)
        except PacketError as exc:
            # Never lose the frame over its keypoints: send it with none instead.
            logger.error(
                "keypoints of %s/%d unusable (%s); sent unseen", packet.session, packet.seq, exc
            )
            packet.keypoints = np.zeros((NUM_KEYPOINTS, 3), np.float32)
            packet.extras = np.zeros((0, 3), np.float32)
            packet.imputed = 0
            if packet.mask is not None:
                packet.mask = None
                self.counters.unmasked += 1
            return encode_packet(packet)
