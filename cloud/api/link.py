"""The API's link to the booth's edge nodes: capture commands out, preview JPEGs in.

:class:`MqttBoothLink` talks to the broker; :class:`LocalBoothLink` is the in-memory
implementation used when no broker is wanted (tests, a UI-only demo): it records
the commands and serves previews that were put into it.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

from cloud.api.clocks import NodeClocks
from protocol.errors import MessageError
from protocol.messages import (
    CaptureCancel,
    CaptureStart,
    ClockPing,
    Message,
    NodeStatus,
    decode_message,
)
from protocol.settings import MqttSettings
from protocol.topics import Command, NodeChannel, Topics

logger = logging.getLogger(__name__)

MAX_PREVIEW_BYTES = 512 * 1024


class BoothLink(ABC):
    """Sends commands to a booth's nodes and keeps each node's latest preview and clock
    offset (:attr:`clocks`)."""

    def __init__(self) -> None:
        self._previews: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.clocks = NodeClocks()

    @abstractmethod
    def send(self, booth: str, command: Command, message: Message) -> None:
        """Deliver ``message`` to every node of ``booth``; raise ``LinkError`` if it cannot."""

    def start_capture(self, booth: str, message: CaptureStart) -> None:
        self.send(booth, Command.CAPTURE, message)

    def cancel_capture(self, booth: str, message: CaptureCancel) -> None:
        self.send(booth, Command.CANCEL, message)

    def ping_clocks(self, booth: str) -> None:
        """Ask every node for its time; :meth:`take_status` measures the answers."""
        sent_at = time.time()
        self.clocks.sent(sent_at)
        self.send(booth, Command.CLOCK, ClockPing(sent_at=sent_at))

    def take_status(self, node: str, payload: bytes) -> None:
        """A node's status: if it answers one of our clock pings, measure the offset."""
        received_at = time.time()
        if not payload:
            return  # a cleared retained status
        try:
            status = decode_message(NodeStatus, payload)
        except MessageError as exc:
            logger.debug("ignoring status of %s: %s", node, exc)
            return
        if status.node == node:
            self.clocks.record(node, status, received_at)

    def put_preview(self, node: str, jpeg: bytes) -> None:
        if len(jpeg) > MAX_PREVIEW_BYTES or not jpeg.startswith(b"\xff\xd8"):
            logger.warning(
                "ignoring preview from %s: not a JPEG under %d bytes", node, MAX_PREVIEW_BYTES
            )
            return
        with self._lock:
            self._previews[node] = jpeg

    def preview(self, node: str) -> bytes | None:
        with self._lock:
            return self._previews.get(node)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the connection."""


class LinkError(Exception):
    """The command could not be handed to the broker."""


class LocalBoothLink(BoothLink):
    """Keeps every command it was asked to send, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, Command, Message]] = []

    def send(self, booth: str, command: Command, message: Message) -> None:
        self.sent.append((booth, command, message))


class MqttBoothLink(BoothLink):
    """Publishes commands (QoS 1), subscribes to every node's preview and status of one
    booth, and measures the nodes' clocks every ``clock_ping_s``."""

    def __init__(
        self,
        settings: MqttSettings,
        booth: str,
        client_id: str | None = None,
        clock_ping_s: float = 10.0,
    ) -> None:
        super().__init__()
        self.topics, self.booth = Topics(settings.prefix), booth
        self._settings, self._client_id = settings, client_id or ""
        self._where = f"{settings.host}:{settings.port}"
        self._warned = False
        self._v5 = True
        self._client = self._connect(v5=True)
        self._closed = threading.Event()
        self._pinger = threading.Thread(
            target=self._ping_loop, args=(clock_ping_s,), name="clock-ping", daemon=True
        )
        self._pinger.start()

    def _ping_loop(self, every_s: float) -> None:
        delay = min(every_s, 1.0)  # a first reading soon after start-up
        while not self._closed.wait(delay):
            if not self.is_connected():
                delay = min(every_s, 1.0)
                continue
            delay = every_s
            try:
                self.ping_clocks(self.booth)
            except LinkError as exc:
                logger.debug("clock ping not sent: %s", exc)

    def _connect(self, v5: bool) -> Any:
        import paho.mqtt.client as mqtt

        settings = self._settings
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        )
        settings.configure_client(client)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_connect_fail = self._on_connect_fail
        client.reconnect_delay_set(1, 30)
        client.connect_async(settings.host, settings.port, settings.keepalive_s)
        client.loop_start()
        return client

    def _on_connect(
        self, client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any = None
    ) -> None:
        if reason.is_failure:
            if self._v5 and str(reason) == "Unsupported protocol version":
                # A 3.1.1-only broker (amqtt, the embedded default): reconnect with 3.1.1,
                # from another thread since this one is the old client's network loop.
                self._v5 = False
                logger.info("MQTT broker %s refuses v5; the booth link uses 3.1.1", self._where)
                threading.Thread(target=self._fall_back, args=(client,), daemon=True).start()
                return
            logger.error("MQTT connection refused: %s", reason)
            return
        self._warned = False
        logger.info("MQTT connected to %s", self._where)
        client.subscribe(self.topics.channel_filter(NodeChannel.PREVIEW, self.booth), qos=0)
        client.subscribe(self.topics.channel_filter(NodeChannel.STATUS, self.booth), qos=0)

    def _fall_back(self, old: Any) -> None:
        old.loop_stop()
        old.disconnect()
        self._client = self._connect(v5=False)

    def _on_connect_fail(self, _client: Any, _userdata: Any) -> None:
        if not self._warned:  # paho retries forever; say so once, not every second
            logger.warning(
                "MQTT broker %s unreachable; retrying (captures return 503 meanwhile)", self._where
            )
            self._warned = True

    def _on_message(self, _client: Any, _userdata: Any, msg: Any) -> None:
        try:
            parsed = self.topics.parse(msg.topic)
        except ValueError as exc:
            logger.warning("ignoring message on %s: %s", msg.topic, exc)
            return
        if parsed.channel is NodeChannel.PREVIEW and parsed.node is not None:
            self.put_preview(parsed.node, bytes(msg.payload))
        elif parsed.channel is NodeChannel.STATUS and parsed.node is not None:
            self.take_status(parsed.node, bytes(msg.payload))

    def is_connected(self) -> bool:
        """Whether commands can be sent now (after a v5 → 3.1.1 fallback too)."""
        return bool(self._client.is_connected())

    def send(self, booth: str, command: Command, message: Message) -> None:
        if not self.is_connected():
            raise LinkError("the MQTT broker is not reachable; check mqtt.host/port and retry")
        info = self._client.publish(self.topics.command(booth, command), message.to_bytes(), qos=1)
        if info.rc != 0:
            raise LinkError(f"MQTT publish failed (rc={info.rc}); retry")

    def close(self) -> None:
        self._closed.set()
        self._client.loop_stop()
        self._client.disconnect()
