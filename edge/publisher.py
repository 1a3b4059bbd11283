"""The publisher: store-and-forward of spooled packets to the MQTT broker (paho-mqtt 2, MQTT v5).

A sender thread publishes READY packets from the spool at QoS 1, at most
``inflight_window`` unacknowledged at a time; a packet leaves the READY state only
when the broker's PUBACK for it arrives. While the broker is away nothing is
published and nothing is lost: paho reconnects with exponential backoff, re-sends
what was in flight (same message ids), and the sender carries on from the spool.
A packet with no PUBACK after ``ack_timeout_s`` is published again; duplicates are
the kind the consumer's ``(session, node, seq)`` dedupe absorbs.

Clean-plate chunks (:mod:`edge.plate`) go the same way: each stays in the plate outbox
until its PUBACK. Also here: the retained node status with an ``offline`` last will, the
end-of-capture manifest (sent once every frame of the capture is acknowledged),
resend requests (``FLAG_RESENT``), the low-rate preview (QoS 0), the live keypoints
(QoS 0, :mod:`edge.live` hands them over one at a time), the booth's
command subscription (with the retained per-session erase requests) and the answers
to those (``erased/{session}``, QoS 1).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from common.mqtt import BrokerRefusedError as Refused
from common.mqtt import ClientOptions, Connection, Version, Will
from edge.plate import PlateKeeper
from edge.settings import PublisherSettings
from edge.spool import CaptureRecord, Spool
from protocol.codec import FLAG_RESENT, decode_packet, encode_packet
from protocol.messages import (
    CaptureManifest,
    EraseAck,
    NodeState,
    NodeStatus,
    ResendRequest,
)
from protocol.settings import MqttSettings
from protocol.topics import Command, Topics

logger = logging.getLogger(__name__)

Key = tuple[str, int]
CommandHandler = Callable[[Command, bytes], None]

_MANIFEST_CHECK_S = 0.2
_VERSIONS: dict[str, Version] = {"auto": "auto", "5": "v5", "3.1.1": "v311"}


class PublisherError(RuntimeError):
    """The publisher cannot reach or use the broker; the message says what to fix."""


class BrokerRefusedError(PublisherError):
    """The broker refused the connection (credentials, client id or ban)."""


@dataclass
class _Inflight:
    kind: str  # "frame", "resend", "manifest", "plate" or "other"
    key: Key
    sent: float


def manifest_for(record: CaptureRecord, node: str) -> CaptureManifest:
    """The end-of-capture manifest of a closed capture."""
    count = record.seq_count or 0
    return CaptureManifest(
        session=record.session,
        node=node,
        first_seq=0,
        last_seq=max(0, count - 1),
        frame_count=count - len(record.dropped) - len(record.lost) if count else 0,
        dropped=record.dropped if count else [],
        lost=record.lost if count else [],
        width=record.width,
        height=record.height,
        fps=min(1000.0, record.fps),
        started_at=record.started_at,
        ended_at=record.ended_at or record.started_at,
    )


class Publisher:
    """One node's MQTT connection: :meth:`start`, then it runs until :meth:`stop`."""

    def __init__(
        self,
        mqtt_settings: MqttSettings,
        settings: PublisherSettings,
        booth: str,
        node: str,
        spool: Spool,
        on_command: CommandHandler | None = None,
        plates: PlateKeeper | None = None,
    ) -> None:
        self.mqtt, self.settings, self.booth, self.node = mqtt_settings, settings, booth, node
        self.spool, self.on_command, self.plates = spool, on_command, plates
        self.topics = Topics(mqtt_settings.prefix)
        self._lock = threading.Lock()
        self._inflight: dict[int, _Inflight] = {}
        self._early: dict[int, tuple[ReasonCode, float]] = {}
        self._acked: list[_Inflight] = []
        self._held: dict[Key, float] = {}  # refused by the broker: retry after this time
        self._resends: deque[Key] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._next_manifest_check = 0.0
        self.published = 0
        self.refusals = 0
        self._last_refusal_log = -float("inf")
        self.connection = Connection(
            mqtt_settings,
            self.client_options(),
            setup=self._install_callbacks,
            on_connect=self._on_connect,
            on_disconnect=self._on_disconnect,
        )
        self.connected = self.connection.connected
        self._sender = threading.Thread(target=self._send_loop, name="mqtt-sender", daemon=True)

    # -- life cycle -----------------------------------------------------------------
    def client_options(self) -> ClientOptions:
        """How the frames' client connects (the live stream's link copies it)."""
        offline = NodeStatus(node=self.node, state=NodeState.OFFLINE, at=time.time())
        s = self.settings
        return ClientOptions(
            client_id=self.mqtt.client_id or f"edge-{self.booth}-{self.node}",
            version=_VERSIONS[s.mqtt_version],
            env_prefix="DANCEBOOTH_EDGE_",
            will=Will(self.status_topic, offline.to_bytes()),
            max_inflight=s.inflight_window,
            reconnect_min_s=s.reconnect_min_s,
            reconnect_max_s=s.reconnect_max_s,
            connect_timeout_s=s.connect_timeout_s,
        )

    def _install_callbacks(self, client: mqtt.Client) -> None:
        client.on_publish = self._on_publish
        client.on_message = self._on_message

    @property
    def client(self) -> mqtt.Client:
        """The paho client (once the broker answered; use it only while connected)."""
        return self.connection.client

    @property
    def status_topic(self) -> str:
        return self.topics.status(self.booth, self.node)

    def start(self) -> None:
        """Connect (waiting up to ``connect_timeout_s``) and start sending.

        Raises :class:`BrokerRefusedError` if the broker refuses the credentials. An
        unreachable broker is not an error: the node captures and spools meanwhile,
        and the connection keeps being tried (and reported) until the broker answers.
        """
        try:
            connected = self.connection.start(self.settings.connect_timeout_s)
        except Refused as exc:
            raise BrokerRefusedError(f"node {self.node}: {exc}") from None
        if not connected:
            logger.warning("%s; spooling meanwhile", self.connection.problem or "not connected yet")
        self._sender.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Publish the ``offline`` status, disconnect cleanly and stop the threads."""
        self._stop.set()
        self._wake.set()
        if self._sender.is_alive():
            self._sender.join(timeout)
        if self.connected.is_set():
            offline = NodeStatus(node=self.node, state=NodeState.OFFLINE, at=time.time())
            info = self.client.publish(self.status_topic, offline.to_bytes(), qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):  # gone meanwhile: the will says it
                info.wait_for_publish(min(timeout, 2.0))
        self.connection.stop(timeout)

    def wake(self) -> None:
        """New packets are ready in the spool."""
        self._wake.set()

    # -- public sends -----------------------------------------------------------------
    def publish_status(self, status: NodeStatus) -> None:
        """Retained status (QoS 1); dropped while disconnected (the next one replaces it)."""
        if self.connected.is_set():
            self._publish(self.status_topic, status.to_bytes(), 1, True, "other", ("", 0))

    def publish_preview(self, jpeg: bytes) -> None:
        """A preview JPEG (QoS 0, not retained); skipped while disconnected."""
        if self.connected.is_set():
            topic = self.topics.preview(self.booth, self.node)
            self._publish(topic, jpeg, 0, False, "other", ("", 0))

    def publish_erase_ack(self, ack: EraseAck) -> None:
        """The node's answer to an erase request (QoS 1). Lost while disconnected, which
        is harmless: the request stays retained until the cloud has this answer, so the
        node gets it again on reconnecting and answers again."""
        if self.connected.is_set():
            topic = self.topics.erased(self.booth, self.node, ack.session)
            self._publish(topic, ack.to_bytes(), 1, False, "other", ("", 0))

    def request_resend(self, request: ResendRequest) -> int:
        """Queue the stored packets ``request`` asks for; return how many were found."""
        found = 0
        for rng in request.ranges:
            seqs = self.spool.final_seqs(request.session, rng.first, rng.last)
            found += len(seqs)
            with self._lock:
                self._resends.extend((request.session, q) for q in seqs)
            wanted = rng.last - rng.first + 1
            if len(seqs) < wanted:
                missing = wanted - len(seqs)
                logger.warning(
                    "resend %s [%d, %d]: %d frames are not in the spool",
                    request.session,
                    rng.first,
                    rng.last,
                    missing,
                )
        self._wake.set()
        return found

    @property
    def inflight(self) -> int:
        with self._lock:
            return len(self._inflight)

    def idle(self) -> bool:
        """Nothing waiting: every packet and manifest acknowledged, no resend queued."""
        with self._lock:
            busy = bool(self._inflight or self._resends or self._acked)
        plates = self.plates.count_pending() if self.plates is not None else 0
        return (
            not busy
            and not plates
            and self.spool.depth() == 0
            and not self.spool.manifests_due(first_only=True)
        )

    # -- paho callbacks (network thread; never call back into paho while holding _lock) --
    def _on_connect(self, client: mqtt.Client) -> None:
        client.subscribe(
            [
                (self.topics.commands_filter(self.booth), 1),
                (self.topics.erase_filter(self.booth), 1),  # retained: pending ones arrive now
            ]
        )
        self._wake.set()

    def _on_disconnect(self, client: mqtt.Client) -> None:
        self._wake.set()

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason: ReasonCode,
        properties: object,
    ) -> None:
        with self._lock:
            entry = self._inflight.pop(mid, None)
            if entry is None:  # acked before publish() returned its mid to us
                self._early[mid] = (reason, time.monotonic())
                return
            self._settle(entry, reason)
        self._wake.set()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            command = self.topics.parse(msg.topic).command
        except ValueError:
            logger.warning("ignoring message on unexpected topic %s", msg.topic)
            return
        if command is not None and self.on_command is not None:
            try:
                self.on_command(command, bytes(msg.payload))
            except Exception:
                logger.exception("command %s failed", command)

    # -- sending (sender thread) ------------------------------------------------------
    def _settle(self, entry: _Inflight, reason: ReasonCode) -> None:
        """Record the broker's answer for ``entry`` (``_lock`` held)."""
        if entry.kind == "other":
            return
        if reason.is_failure:
            now = time.monotonic()
            self.refusals += 1
            if now - self._last_refusal_log > 10:  # one line per burst, not one per frame
                self._last_refusal_log = now
                logger.error(
                    "broker refused %s %s/%d: %s (check the ACL; %d refusals so far);"
                    " kept in the spool, retried every %d s",
                    entry.kind,
                    *entry.key,
                    reason,
                    self.refusals,
                    self.settings.reconnect_max_s,
                )
            self._held[entry.key] = now + self.settings.reconnect_max_s
            return
        self._acked.append(entry)

    def _publish(
        self, topic: str, payload: bytes, qos: int, retain: bool, kind: str, key: Key
    ) -> bool:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return False
        entry = _Inflight(kind, key, time.monotonic())
        with self._lock:
            early = self._early.pop(info.mid, None)
            if early is not None:
                self._settle(entry, early[0])
            elif qos > 0:
                self._inflight[info.mid] = entry
        self.published += 1
        return True

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._commit_acks()
                if self.connected.is_set():
                    self._expire()
                    self._send_resends()
                    self._send_ready()
                    self._send_plates()
                    self._send_manifests()
            except Exception:
                logger.exception("publisher send loop failed; retrying")
                self._stop.wait(1.0)
            self._wake.wait(0.1)
            self._wake.clear()
        self._commit_acks()

    def _commit_acks(self) -> None:
        with self._lock:
            acked, self._acked = self._acked, []
        frames = [e.key for e in acked if e.kind in ("frame", "resend")]
        if frames:
            self.spool.mark_acked(frames)
        for entry in acked:
            if entry.kind == "manifest":
                self._manifest_acked(entry.key[0])
            elif entry.kind == "plate" and self.plates is not None:
                self.plates.acked(entry.key)

    def _manifest_acked(self, session: str) -> None:
        # A broker that acknowledged the manifest can still lose it (a crash before it
        # reached a subscriber), so it is repeated a few times, further and further apart;
        # the uploader treats a repeat as a replacement.
        record = self.spool.capture(session)
        sends = (record.manifest_sends if record is not None else 0) + 1
        repeats, base = self.settings.manifest_repeats, self.settings.manifest_repeat_s
        next_at = time.time() + base * 3 ** (sends - 1) if sends <= repeats else None
        self.spool.manifest_sent(session, next_at)
        logger.info("manifest of %s acknowledged (%d)", session, sends)

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            late = [
                m for m, e in self._inflight.items() if now - e.sent > self.settings.ack_timeout_s
            ]
            for mid in late:
                del self._inflight[mid]
            self._early = {m: v for m, v in self._early.items() if now - v[1] < 60}
            self._held = {k: t for k, t in self._held.items() if t > now}
        if late:
            logger.warning(
                "%d packets unacknowledged for %.0f s; publishing them again",
                len(late),
                self.settings.ack_timeout_s,
            )

    def _free_slots(self) -> tuple[int, set[Key]]:
        with self._lock:
            busy = {e.key for e in self._inflight.values()} | {e.key for e in self._acked}
            return self.settings.inflight_window - len(self._inflight), busy | set(self._held)

    def _send_ready(self) -> None:
        free, skip = self._free_slots()
        if free <= 0:
            return
        for key, packet in self.spool.ready(free, skip):
            topic = self.topics.frames(self.booth, self.node, key[0])
            if not self._publish(topic, packet, 1, False, "frame", key):
                return

    def _send_plates(self) -> None:
        if self.plates is None:
            return
        free, skip = self._free_slots()
        if free <= 0:
            return
        for key, session, chunk in self.plates.pending(free, skip):
            topic = self.topics.plate(self.booth, self.node, session)
            if not self._publish(topic, chunk, 1, False, "plate", key):
                return

    def _send_resends(self) -> None:
        free, _ = self._free_slots()
        while free > 0:
            with self._lock:
                if not self._resends:
                    return
                key = self._resends.popleft()
            for _, raw in self.spool.packets(key[0], key[1], key[1]):
                packet = decode_packet(raw)
                packet.flags |= FLAG_RESENT
                topic = self.topics.frames(self.booth, self.node, key[0])
                self._publish(topic, encode_packet(packet), 1, False, "resend", key)
                free -= 1

    def _send_manifests(self) -> None:
        now = time.monotonic()
        if now < self._next_manifest_check:
            return
        self._next_manifest_check = now + _MANIFEST_CHECK_S
        with self._lock:
            pending = {e.key[0] for e in self._inflight.values() if e.kind == "manifest"}
        for record in self.spool.manifests_due():
            if record.session in pending:
                continue
            manifest = manifest_for(record, self.node)
            topic = self.topics.manifest(self.booth, self.node, record.session)
            self._publish(topic, manifest.to_bytes(), 1, False, "manifest", (record.session, -1))
