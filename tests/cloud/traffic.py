"""Test traffic: a paho publisher standing in for edge nodes (the edge publisher is built
separately), and waiting helpers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.bench.codec import sample_packet
from protocol.codec import FLAG_RESENT, FramePacket, encode_packet
from protocol.messages import CaptureManifest, ResendRequest, decode_message
from protocol.topics import Command, Topics

TOPICS = Topics()
BOOTH = "booth1"


def packet(seq: int, session: str = "s1", node: str = "node1", size: int = 4000) -> FramePacket:
    p = sample_packet(seq, size)
    p.session, p.node = session, node
    return p


def manifest_for(session: str, node: str, count: int) -> CaptureManifest:
    return CaptureManifest(
        session=session,
        node=node,
        first_seq=0,
        last_seq=count - 1,
        frame_count=count,
        width=640,
        height=480,
        fps=30,
        started_at=1.0,
        ended_at=2.0,
    )


class Publisher:
    """A connected paho client that publishes QoS 1 and can wait for every PUBACK."""

    def __init__(self, host: str, port: int, v5: bool = True, **auth: str) -> None:
        proto = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=proto)
        if auth:
            self.client.username_pw_set(auth["username"], auth["password"])
        self.client.max_inflight_messages_set(2000)
        self.client.max_queued_messages_set(0)
        self.connected = threading.Event()
        self.client.on_connect = lambda *a: self.connected.set()
        self.client.connect(host, port)
        self.client.loop_start()
        assert self.connected.wait(10), "publisher could not connect"
        self.pending: list[mqtt.MQTTMessageInfo] = []

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.pending.append(self.client.publish(topic, payload, qos=1, retain=retain))

    def frames(self, packets: Iterable[FramePacket]) -> None:
        for p in packets:
            self.publish(TOPICS.frames(BOOTH, p.node, p.session), encode_packet(p))

    def manifest(self, m: CaptureManifest) -> None:
        self.publish(TOPICS.manifest(BOOTH, m.node, m.session), m.to_bytes())

    def flush(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for info in self.pending:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            assert info.is_published(), "broker did not acknowledge a publish"
        self.pending.clear()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class ResendingNode:
    """Answers resend requests for ``node`` from the packets it holds (like the edge spool)."""

    def __init__(self, host: str, port: int, packets: dict[int, FramePacket], node: str) -> None:
        self.packets, self.node = packets, node
        self.requests: list[ResendRequest] = []
        self.pub = Publisher(host, port)
        self.pub.client.on_message = self._on_message
        self.pub.client.subscribe(TOPICS.command(BOOTH, Command.RESEND), qos=1)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        request = decode_message(ResendRequest, msg.payload)
        if request.node != self.node:
            return
        self.requests.append(request)
        for r in request.ranges:
            for seq in range(r.first, r.last + 1):
                if seq in self.packets:
                    p = self.packets[seq]
                    p.flags |= FLAG_RESENT
                    self.pub.frames([p])

    def close(self) -> None:
        self.pub.close()


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
