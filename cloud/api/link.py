"""The API's link to the booth's edge nodes: capture commands out, preview JPEGs in.

:class:`MqttBoothLink` talks to the broker; :class:`LocalBoothLink` is the in-memory
implementation used when no broker is wanted (tests, a UI-only demo): it records
the commands and serves previews that were put into it.
"""

from __future__ import annotations

import logging
import secrets
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
    PlateTake,
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

    def take_plate(self, booth: str, message: PlateTake) -> None:
        """Ask the booth's nodes (or one) to take their clean plate now."""
        self.send(booth, Command.PLATE, message)

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
    booth, and measures the nodes' clocks every ``clock_ping_s``.

    The connection is made in the background (the API starts without a broker and
    answers 503 to captures meanwhile); :mod:`common.mqtt` finds the version and
    reports an unreachable broker with what to check.
    """

    def __init__(
        self,
        settings: MqttSettings,
        booth: str,
        client_id: str | None = None,
        clock_ping_s: float = 10.0,
    ) -> None:
        from common.mqtt import ClientOptions, Connection

        super().__init__()
        self.topics, self.booth = Topics(settings.prefix), booth
        options = ClientOptions(
            client_id=client_id or f"api-{booth}-{secrets.token_hex(4)}",
            env_prefix="DANCEBOOTH_CLOUD_",
        )
        self.connection = Connection(
            settings, options, setup=self._install_callbacks, on_connect=self._subscribe
        )
        self.connection.start()
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

    def _install_callbacks(self, client: Any) -> None:
        client.on_message = self._on_message

    def _subscribe(self, client: Any) -> None:
        client.subscribe(self.topics.channel_filter(NodeChannel.PREVIEW, self.booth), qos=0)
        client.subscribe(self.topics.channel_filter(NodeChannel.STATUS, self.booth), qos=0)

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
        """Whether commands can be sent now."""
        return self.connection.is_connected()

    def send(self, booth: str, command: Command, message: Message) -> None:
        if not self.is_connected():
            problem = self.connection.problem
            raise LinkError(
                f"the MQTT broker is not reachable{f' ({problem})' if problem else ''}; retry"
                " once it is"
            )
        info = self.connection.client.publish(
            self.topics.command(booth, command), message.to_bytes(), qos=1
        )
        if info.rc != 0:
            raise LinkError(f"MQTT publish failed (rc={info.rc}); retry")

    def close(self) -> None:
        self._closed.set()
        self.connection.stop()
