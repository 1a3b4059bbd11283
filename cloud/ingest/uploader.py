"""The uploader: MQTT frame, manifest, status and erase-answer traffic in; shards, rows,
resend requests, retained erase requests (:mod:`cloud.node_erasure`) and dead letters
out (``dancebooth cloud uploader``).

Messages are taken with manual acknowledgement on a persistent MQTT session and
acknowledged, in arrival order, only after their batch is durable (see
:mod:`cloud.ingest.frames`). An uploader that dies therefore loses nothing: the
broker redelivers whatever it had not acknowledged, to it when it comes back or, with
a shared subscription, to the other uploaders of the group.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt

from cloud.db.engine import session_factory
from cloud.ingest.frames import FrameStore
from cloud.ingest.ingestor import INFRASTRUCTURE_ERRORS, BatchResult, Incoming, Ingestor
from cloud.ingest.manifests import CompletenessChecker, Policy
from cloud.node_erasure import EraseRelay
from cloud.qa.gate import CaptureGate
from cloud.settings import CloudSettings
from cloud.storage import Storage
from common.mqtt import ClientOptions, Connection
from protocol.ids import check_id
from protocol.messages import ResendRequest
from protocol.topics import Command, NodeChannel, Topics, shared_subscription

logger = logging.getLogger(__name__)

CHECK_EVERY_S = 0.5
_CHANNELS = (
    NodeChannel.FRAMES,
    NodeChannel.MANIFEST,
    NodeChannel.PLATE,
    NodeChannel.STATUS,
    NodeChannel.ERASED,
)
_PUBLISH_WAIT_S = 2.0


@dataclass(frozen=True)
class _Received:
    generation: int  # which connection it came on: a mid is only valid on that one
    mid: int
    qos: int
    message: Incoming


@dataclass
class UploaderStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    unmasked: int = 0  # stored without a person mask (none sent, or an empty one)
    dead_letters: int = 0
    batches: int = 0
    bytes: int = 0
    retries: int = 0
    sessions_uploaded: list[str] = field(default_factory=list)


def default_client_id() -> str:
    host = "".join(c if c.isalnum() or c in "-_" else "-" for c in socket.gethostname())
    return f"uploader-{host}"[:64].strip("-_") or "uploader"


class Uploader:
    """One uploader process's worth of work; several may share a subscription group."""

    def __init__(self, settings: CloudSettings, storage: Storage, engine: Any) -> None:
        self.settings = settings
        self.cfg = settings.uploader
        self.booth = check_id(settings.booth, "booth id")
        self.topics = Topics(settings.mqtt.prefix)
        self.client_id = self.cfg.client_id or settings.mqtt.client_id or default_client_id()
        factory = session_factory(engine)
        store = FrameStore(storage, factory, self.client_id, self.cfg.require_registered_session)
        self.ingestor = Ingestor(
            self.booth, self.topics, store, factory, self.cfg.dead_letter_keep_bytes
        )
        policy = Policy(
            self.cfg.resend_after_s,
            self.cfg.resend_interval_s,
            self.cfg.max_resend_requests,
            self.cfg.max_attempts,
        )
        gate = CaptureGate(storage, factory, settings) if settings.qa.enabled else None
        self.checker = CompletenessChecker(factory, self._send_resend, policy, gate)
        self.relay = EraseRelay(factory, self.booth, self.topics.erase, self._publish_retained)
        self.stats = UploaderStats()
        self._inbox: queue.Queue[_Received] = queue.Queue()
        self._generation = 0
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self._connection: Connection | None = None
        self.v5 = False
        self.shared = False

    # -- MQTT ---------------------------------------------------------------------------
    def start(self) -> None:
        """Connect, subscribe, and start processing in a background thread.

        Raises :class:`~common.mqtt.MqttError` (saying what to check) when the broker
        cannot be reached within the connect timeout or refuses the credentials.
        """
        options = ClientOptions(
            client_id=self.client_id,
            version=self.cfg.protocol,
            env_prefix="DANCEBOOTH_CLOUD_",
            manual_ack=True,
            session_expiry_s=self.cfg.session_expiry_s,
            receive_maximum=min(65535, 2 * self.cfg.batch_frames),
        )
        self._connection = Connection(
            self.settings.mqtt,
            options,
            setup=self._install_callbacks,
            on_connect=self._on_connect,
            on_disconnect=self._on_disconnect,
        )
        self._connection.connect()
        self._worker = threading.Thread(target=self._work, name="uploader", daemon=True)
        self._worker.start()
        logger.info(
            "uploader %s on %s (MQTT %s, %s subscription)",
            self.client_id,
            self._connection.where,
            "v5" if self.v5 else "3.1.1",
            "shared" if self.shared else "plain",
        )

    def _install_callbacks(self, client: mqtt.Client) -> None:
        self._client = client
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe

    def _filters(self, shared: bool) -> list[str]:
        plain = [self.topics.channel_filter(ch, self.booth) for ch in _CHANNELS]
        if not shared:
            return plain
        # Status is retained per node and small: every uploader reads all of it.
        return [
            shared_subscription(self.cfg.share_group, f) if "/status" not in f else f for f in plain
        ]

    def _subscribe(self, client: mqtt.Client) -> None:
        # Shared subscriptions exist in MQTT v5 only; a 3.1.1 broker would treat
        # "$share/..." as a literal topic and deliver nothing.
        self.shared = self.v5 and self.cfg.shared_subscription
        client.subscribe([(f, 1) for f in self._filters(self.shared)])

    def _on_subscribe(self, client: mqtt.Client, _u: Any, _mid: int, codes: Any, _p: Any) -> None:
        if any(code.is_failure for code in codes):
            if self.shared:
                logger.warning(
                    "broker refused the shared subscription (%s); using plain ones",
                    ", ".join(map(str, codes)),
                )
                self.shared = False
                client.subscribe([(f, 1) for f in self._filters(False)])
            else:
                logger.error(
                    "broker refused subscriptions: %s (check the ACL of %s)",
                    ", ".join(map(str, codes)),
                    self.settings.mqtt.username,
                )

    def _on_connect(self, client: mqtt.Client) -> None:
        assert self._connection is not None
        self.v5 = bool(self._connection.v5)
        self._generation += 1
        self._subscribe(client)

    def _on_disconnect(self, _client: mqtt.Client) -> None:
        self._generation += 1  # PUBACKs for the old connection's mids must not be sent

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = msg._topic.decode("utf-8", "backslashreplace")
        incoming = Incoming(topic, bytes(msg.payload))
        self._inbox.put(_Received(self._generation, msg.mid, msg.qos, incoming))

    def _send_resend(self, request: ResendRequest) -> None:
        if self._client is not None:
            topic = self.topics.command(self.booth, Command.RESEND)
            self._client.publish(topic, request.to_bytes(), qos=1)

    def _publish_retained(self, topic: str, payload: bytes, retain: bool) -> bool:
        """Publish at QoS 1 and wait for the broker's PUBACK; False if it did not come."""
        client, connection = self._client, self._connection
        if client is None or connection is None or not connection.connected.is_set():
            return False
        info = client.publish(topic, payload, qos=1, retain=retain)
        try:
            info.wait_for_publish(_PUBLISH_WAIT_S)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()

    # -- processing ---------------------------------------------------------------------
    def _work(self) -> None:
        next_check = time.monotonic()
        while not self._stopping.is_set():
            try:
                batch = self._collect()
                if batch:
                    self._process(batch)
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + CHECK_EVERY_S
                    self._check()
            except Exception:
                # Input errors never get here (the ingestor dead-letters them); this is
                # a bug. Keep serving: the unacknowledged batch comes back on reconnect.
                logger.exception("uploader loop failed; continuing")
                self._stopping.wait(1.0)

    def _collect(self) -> list[_Received]:
        try:
            batch = [self._inbox.get(timeout=min(self.cfg.batch_seconds, CHECK_EVERY_S))]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.cfg.batch_seconds
        while len(batch) < self.cfg.batch_frames:
            left = deadline - time.monotonic()
            try:
                batch.append(
                    self._inbox.get(timeout=left) if left > 0 else self._inbox.get_nowait()
                )
            except queue.Empty:
                break
        return batch

    def _process(self, batch: list[_Received]) -> None:
        delay = 0.5
        while True:
            try:
                result = self.ingestor.handle([r.message for r in batch])
                break
            except INFRASTRUCTURE_ERRORS as exc:
                # Database or store down: keep the batch unacknowledged and try again.
                self.stats.retries += 1
                logger.error("storing a batch failed (%s); retrying in %.1fs", exc, delay)
                if self._stopping.wait(delay):
                    return
                delay = min(delay * 2, 30.0)
        self._ack(batch)
        self._count(len(batch), result)

    def _ack(self, batch: list[_Received]) -> None:
        client = self._client
        assert client is not None
        for r in batch:  # in arrival order, as MQTT requires
            if r.qos > 0 and r.generation == self._generation:
                client.ack(r.mid, r.qos)

    def _count(self, n: int, result: BatchResult) -> None:
        s = self.stats
        s.received += n
        s.batches += 1
        s.stored += result.frames.stored
        s.duplicates += result.frames.duplicates
        s.unmasked += result.frames.unmasked
        s.bytes += result.frames.bytes
        s.dead_letters += result.dead_letters

    def _check(self) -> None:
        try:
            self.stats.sessions_uploaded += self.checker.check()
        except INFRASTRUCTURE_ERRORS as exc:
            logger.error("completeness check failed (%s); will retry", exc)
        except Exception:
            logger.exception("completeness check failed")
        try:
            self.relay.run()
        except INFRASTRUCTURE_ERRORS as exc:
            logger.error("erase requests not relayed (%s); will retry", exc)
        except Exception:
            logger.exception("erase requests not relayed")

    # -- lifecycle ----------------------------------------------------------------------
    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch in hand, then disconnect (unacknowledged messages stay queued)."""
        self._stopping.set()
        if self._worker is not None:
            self._worker.join(timeout)
        if self._connection is not None:
            self._connection.stop()

    def __enter__(self) -> Uploader:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
