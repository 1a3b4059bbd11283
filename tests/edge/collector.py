"""A test consumer: subscribes to every node topic of a booth and dedupes frames on
(session, node, seq), the way the cloud uploader does."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocol.codec import FramePacket, decode_packet
from protocol.live import LiveKeypoints, decode_live
from protocol.messages import CaptureManifest, NodeStatus, ResendRequest, SeqRange, decode_message
from protocol.plates import PlateChunk, decode_plate_chunk
from protocol.topics import Command, NodeChannel, Topics


class Collector:
    def __init__(
        self,
        host: str,
        port: int,
        booth: str = "booth1",
        v5: bool = True,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.booth, self.topics = booth, Topics()
        self.frames: dict[tuple[str, str, int], FramePacket] = {}
        self.deliveries: Counter[tuple[str, str, int]] = Counter()
        self.manifests: dict[tuple[str, str], CaptureManifest] = {}
        self.manifest_count: Counter[tuple[str, str]] = Counter()
        self.statuses: list[NodeStatus] = []
        self.previews: list[bytes] = []
        self.live: list[LiveKeypoints] = []
        self.plates: dict[tuple[str, str], dict[int, PlateChunk]] = {}
        self.conflicts: list[tuple[str, str, int]] = []
        self._cond = threading.Condition()
        protocol = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=protocol)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 1)
        self.subscribed = threading.Event()
        self.client.connect(host, port)
        self.client.loop_start()
        assert self.subscribed.wait(10), "collector could not subscribe"

    def _on_connect(self, client: mqtt.Client, *args: object) -> None:
        for channel in NodeChannel:
            client.subscribe(self.topics.channel_filter(channel, self.booth), qos=1)
        self.subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        parsed = self.topics.parse(msg.topic)
        with self._cond:
            if parsed.channel is NodeChannel.FRAMES:
                packet = decode_packet(msg.payload)
                key = (packet.session, packet.node, packet.seq)
                old = self.frames.get(key)
                if old is not None and (old.jpeg, old.capture_ns) != (
                    packet.jpeg,
                    packet.capture_ns,
                ):
                    self.conflicts.append(key)
                self.frames.setdefault(key, packet)
                self.deliveries[key] += 1
            elif parsed.channel is NodeChannel.MANIFEST:
                m = decode_message(CaptureManifest, msg.payload)
                self.manifests[(m.session, m.node)] = m
                self.manifest_count[(m.session, m.node)] += 1
            elif parsed.channel is NodeChannel.STATUS:
                self.statuses.append(decode_message(NodeStatus, msg.payload))
            elif parsed.channel is NodeChannel.PREVIEW:
                self.previews.append(bytes(msg.payload))
            elif parsed.channel is NodeChannel.LIVE:
                self.live.append(decode_live(msg.payload))
            elif parsed.channel is NodeChannel.PLATE:
                chunk = decode_plate_chunk(msg.payload)
                self.plates.setdefault((chunk.session, chunk.node), {})[chunk.index] = chunk
            self._cond.notify_all()

    def seqs(self, session: str, node: str = "node1") -> set[int]:
        with self._cond:
            return {q for (s, n, q) in self.frames if s == session and n == node}

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.2))
            return True

    def complete(self, session: str, node: str = "node1") -> bool:
        m = self.manifests.get((session, node))
        return m is not None and m.expected_seqs() <= self.seqs(session, node)

    def request_missing(self, session: str, node: str = "node1") -> int:
        """Ask the node to resend what its manifest lists and we lack (the uploader's job)."""
        m = self.manifests[(session, node)]
        missing = sorted(m.expected_seqs() - self.seqs(session, node))
        if missing:
            ranges = [SeqRange(first=q, last=q) for q in missing[:256]]
            request = ResendRequest(session=session, node=node, ranges=ranges)
            topic = self.topics.command(self.booth, Command.RESEND)
            self.client.publish(topic, request.to_bytes(), qos=1).wait_for_publish(5)
        return len(missing)

    def plate_complete(self, session: str, node: str = "node1") -> bool:
        chunks = self.plates.get((session, node), {})
        return bool(chunks) and len(chunks) == next(iter(chunks.values())).count

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
