"""The live keypoint stream: every frame's dancer, published at once for the booth's mirror.

Two producers feed one :class:`LiveStream`: during a capture the annotator offers the
keypoints it has just repaired and smoothed for the frame packet; between captures the
booth watch (:mod:`edge.plate_watch`) offers what a :class:`LiveTracker` makes of each
frame it looks at (the same dancer selection and the same online smoothing, with their
own state). :meth:`LiveStream.offer` never blocks: it puts the message into a one-slot
mailbox and returns. A sender thread publishes what the mailbox holds (QoS 0) and waits
for it to reach the socket; keypoints offered meanwhile replace the waiting ones, which
are counted as dropped. So a slow link costs the mirror frames, never the capture or the
QoS 1 frame stream a queue of live messages would sit in front of.

The messages go out on their own MQTT connection (:class:`LiveLink`: the node's account,
client id ``<node's>-live``, no will), not the frames' one: sharing one client put every
live message through the frames' socket and paho's outgoing queue, and added 16 ms to the
frames' median capture -> subscriber latency on an idle machine (18 -> 34 ms, BlazePose,
30 fps; ``dancebooth bench edge node --live/--no-live``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import paho.mqtt.client as mqtt

from common.mqtt import ClientOptions, Connection
from edge.frames import Frame, Keypoints
from edge.keypoints import KeypointStage, StageFactory, sanitize
from edge.pose.base import Person
from edge.pose.tracking import DancerTracker
from protocol.errors import ProtocolError
from protocol.live import LIVE_CAPTURING, LIVE_SMOOTHED, LiveKeypoints, encode_live
from protocol.settings import MqttSettings
from protocol.skeleton import NUM_KEYPOINTS

logger = logging.getLogger(__name__)

# (payload, how long to wait for the socket) -> whether it was written
Send = Callable[[bytes, float], bool]


@dataclass
class LiveCounters:
    offered: int = 0
    sent: int = 0
    dropped: int = 0  # replaced in the mailbox by newer keypoints before it was sent
    failed: int = 0  # not connected, or not written in time
    invalid: int = 0  # keypoints the codec refused (never expected: they are sanitised)


class LiveLink:
    """The live stream's own MQTT connection; :meth:`send` is a :data:`Send`."""

    def __init__(self, settings: MqttSettings, options: ClientOptions, topic: str) -> None:
        self.topic = topic
        self.connection = Connection(settings, options)

    def start(self) -> None:
        """Connect in the background (the node does not wait for its mirror feed)."""
        self.connection.start(0.0)

    def stop(self) -> None:
        self.connection.stop()

    def send(self, payload: bytes, wait_s: float) -> bool:
        """One message (QoS 0); whether it reached the socket within ``wait_s``."""
        if not self.connection.is_connected():
            return False
        info = self.connection.client.publish(self.topic, payload, qos=0)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return False
        try:
            info.wait_for_publish(wait_s)
        except (RuntimeError, ValueError):  # the connection went meanwhile
            return False
        return info.is_published()


class LiveStream:
    """The node's live keypoint publisher: :meth:`offer` from any thread, newest wins."""

    def __init__(self, send: Send, *, send_timeout_s: float = 0.25) -> None:
        self.send, self.send_timeout_s = send, send_timeout_s
        self.counters = LiveCounters()
        self._slot: bytes | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._seq = 0
        self._thread = threading.Thread(target=self._loop, name="live-keypoints", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def offer(
        self,
        capture_ns: int,
        width: int,
        height: int,
        keypoints: Keypoints,
        people: int,
        *,
        capturing: bool = False,
    ) -> None:
        """The dancer's repaired, smoothed keypoints in the frame captured at ``capture_ns``."""
        flags = LIVE_SMOOTHED | (LIVE_CAPTURING if capturing else 0)
        with self._lock:  # two producers (annotator, booth watch) hand over in turn
            seq, self._seq = self._seq, self._seq + 1
            self.counters.offered += 1
        live = LiveKeypoints(
            seq=seq % 2**32,
            capture_ns=capture_ns,
            width=width,
            height=height,
            keypoints=sanitize(keypoints, width, height),
            people=min(people, 255),
            flags=flags,
            publish_ns=time.time_ns(),
        )
        try:
            payload = encode_live(live)
        except ProtocolError as exc:
            self.counters.invalid += 1
            logger.debug("live keypoints not sent: %s", exc)
            return
        with self._lock:
            if self._slot is not None:
                self.counters.dropped += 1
            self._slot = payload
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            with self._lock:
                payload, self._slot = self._slot, None
            if payload is None:
                continue
            try:
                sent = self.send(payload, self.send_timeout_s)
            except Exception:
                logger.exception("live keypoints not sent")
                sent = False
            if sent:
                self.counters.sent += 1
            else:
                self.counters.failed += 1


class LiveTracker:
    """Between captures: people in a frame -> the dancer's repaired, smoothed keypoints."""

    def __init__(self, stages: StageFactory, fps: float) -> None:
        self.stages, self.fps = stages, fps
        self.tracker = DancerTracker()
        self._stage: KeypointStage | None = None
        self._t0_ns = 0

    def reset(self) -> None:
        """Forget the dancer (the camera was closed, or a capture ran meanwhile)."""
        self.tracker.reset()
        self._stage = None

    def process(self, frame: Frame, people: list[Person]) -> tuple[Keypoints, int]:
        """The dancer's keypoints in ``frame`` (all unseen when nobody) and people seen."""
        if self._stage is None:
            self._stage, _ = self.stages(self.fps)
            self._t0_ns = frame.capture_ns
        selection = self.tracker.select(people, frame.width, frame.height)
        dancer = selection.person
        kps = np.zeros((NUM_KEYPOINTS, 3), np.float32) if dancer is None else dancer.keypoints
        extras = np.zeros((0, 3), np.float32) if dancer is None else dancer.extras
        w, h = frame.width, frame.height
        t_s = (frame.capture_ns - self._t0_ns) / 1e9
        kps, _, _ = self._stage.process(sanitize(kps, w, h), sanitize(extras, w, h), t_s)
        return sanitize(kps, w, h), selection.people_seen
