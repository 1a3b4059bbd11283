"""One batch of MQTT messages in, durable state out: the uploader's logic without MQTT.

Every message ends in exactly one place: a stored frame (or a recognised duplicate),
a manifest, a node status, a node's answer to an erase request, a clean-plate chunk
(:mod:`cloud.ingest.plates`), or a dead letter with the reason. A frame whose camera size
differs from the size its node's earlier frames of the session have is such a dead
letter (the resolution changed mid-session); the frames already stored stay. Nothing
raised by bad input escapes :meth:`Ingestor.handle`; only infrastructure failures
(database or object store down) do, so the caller can retry the batch without
acknowledging it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud import node_erasure
from cloud.db.engine import transaction
from cloud.db.lifecycle import ensure_booth
from cloud.db.models import Node, utcnow
from cloud.ingest import dead_letters
from cloud.ingest.dead_letters import Refusal
from cloud.ingest.frames import DELETED, FrameStore, StoreResult
from cloud.ingest.manifests import record_manifest
from cloud.ingest.plates import PlateResult, PlateStore
from cloud.ingest.takes import before_take, take_starts
from cloud.storage import StorageError
from protocol.codec import FramePacket, decode_packet
from protocol.errors import ProtocolError
from protocol.messages import CaptureManifest, EraseAck, NodeStatus, decode_message
from protocol.plates import PlateChunk, decode_plate_chunk
from protocol.topics import NodeChannel, ParsedTopic, Topics

logger = logging.getLogger(__name__)

# Failures of the services underneath, not of the input: retry, never dead-letter.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    StorageError,
    OSError,
)


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes


@dataclass
class BatchResult:
    frames: StoreResult = field(default_factory=StoreResult)
    manifests: int = 0
    statuses: int = 0
    erasures: int = 0  # nodes' answers to erase requests
    dead_letters: int = 0
    dropped: int = 0  # traffic of deleted sessions: counted, never kept
    plates: PlateResult = field(default_factory=PlateResult)


@dataclass
class _Sorted:
    frames: list[tuple[FramePacket, Incoming]] = field(default_factory=list)
    plates: list[tuple[PlateChunk, Incoming]] = field(default_factory=list)
    manifests: list[tuple[CaptureManifest, Incoming]] = field(default_factory=list)
    statuses: list[tuple[str, NodeStatus]] = field(default_factory=list)
    erasures: list[EraseAck] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    dropped: int = 0


class Ingestor:
    """Validates, routes and stores one batch at a time, for one booth."""

    def __init__(
        self,
        booth: str,
        topics: Topics,
        store: FrameStore,
        factory: sessionmaker[Db],
        keep_bytes: int,
    ) -> None:
        self.booth = booth
        self.topics = topics
        self.store = store
        self.factory = factory
        self.keep_bytes = keep_bytes
        self.plates = PlateStore(store.storage, factory)

    def handle(self, batch: Sequence[Incoming]) -> BatchResult:
        """Process ``batch``; raises only infrastructure errors (then nothing is acked)."""
        result = BatchResult()
        try:
            self._handle(batch, result)
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception:
            # A bug met by some payload must not sink the rest: retry one by one, and
            # dead-letter (payload kept) only the messages that still fail.
            logger.exception("batch of %d failed; retrying message by message", len(batch))
            result = BatchResult()
            for message in batch:
                self._handle_alone(message, result)
        return result

    def _handle_alone(self, message: Incoming, result: BatchResult) -> None:
        try:
            self._handle([message], result)
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception as exc:
            logger.exception("message on %s failed", message.topic)
            with transaction(self.factory) as db:
                refusal = Refusal(message.topic, message.payload, f"internal error: {exc!r}")
                dead_letters.record(db, [refusal], self.keep_bytes)
            result.dead_letters += 1

    def _handle(self, batch: Sequence[Incoming], result: BatchResult) -> None:
        work = _Sorted()
        for message in batch:
            self._sort(message, work)
        self._refuse_closed_sessions(work)
        self._drop_earlier_takes(work)
        self._refuse_resized(work)
        if work.plates:
            part_plates = self.plates.store(self.booth, [c for c, _ in work.plates])
            result.plates.chunks += part_plates.chunks
            result.plates.plates += part_plates.plates
        if work.frames:
            part = self.store.store(self.booth, [p for p, _ in work.frames])
            result.frames.stored += part.stored
            result.frames.duplicates += part.duplicates
            result.frames.shards += part.shards
            result.frames.bytes += part.bytes
            result.frames.unmasked += part.unmasked
        with transaction(self.factory) as db:
            for manifest, _ in work.manifests:
                record_manifest(db, self.booth, manifest)
            for node, status in work.statuses:
                self._record_status(db, node, status)
            for ack in work.erasures:
                node_erasure.record_ack(db, self.booth, ack)
            dead_letters.record(db, work.refused, self.keep_bytes)
        result.manifests += len(work.manifests)
        result.statuses += len(work.statuses)
        result.erasures += len(work.erasures)
        result.dead_letters += len(work.refused)
        result.dropped += work.dropped

    def _sort(self, message: Incoming, work: _Sorted) -> None:
        try:
            parsed = self.topics.parse(message.topic)
            if parsed.booth != self.booth:
                raise ProtocolError(f"booth {parsed.booth} is not this uploader's ({self.booth})")
            if parsed.channel is NodeChannel.FRAMES:
                packet = decode_packet(message.payload)
                _check_origin(parsed, packet.session, packet.node)
                work.frames.append((packet, message))
            elif parsed.channel is NodeChannel.PLATE:
                chunk = decode_plate_chunk(message.payload)
                _check_origin(parsed, chunk.session, chunk.node)
                work.plates.append((chunk, message))
            elif parsed.channel is NodeChannel.MANIFEST:
                manifest = decode_message(CaptureManifest, message.payload)
                _check_origin(parsed, manifest.session, manifest.node)
                work.manifests.append((manifest, message))
            elif parsed.channel is NodeChannel.STATUS:
                if message.payload:  # an empty retained message only clears the topic
                    status = decode_message(NodeStatus, message.payload)
                    _check_origin(parsed, parsed.session, status.node)
                    assert parsed.node is not None
                    work.statuses.append((parsed.node, status))
            elif parsed.channel is NodeChannel.ERASED:
                ack = decode_message(EraseAck, message.payload)
                _check_origin(parsed, ack.session, ack.node)
                work.erasures.append(ack)
            else:
                raise ProtocolError(f"the uploader does not take {parsed.channel or 'commands'}")
        except ProtocolError as exc:
            work.refused.append(Refusal(message.topic, message.payload, str(exc)))

    def _refuse_closed_sessions(self, work: _Sorted) -> None:
        sessions = {p.session for p, _ in work.frames} | {m.session for m, _ in work.manifests}
        sessions |= {c.session for c, _ in work.plates}
        refused = self.store.check_sessions(self.booth, sessions) if sessions else {}
        if not refused:
            return
        pairs: list[tuple[str, Incoming]] = [(p.session, m) for p, m in work.frames]
        pairs += [(c.session, m) for c, m in work.manifests]
        pairs += [(c.session, m) for c, m in work.plates]
        for session, message in pairs:
            if session in refused and refused[session].startswith(DELETED):
                work.dropped += 1
            elif session in refused:
                work.refused.append(
                    Refusal(message.topic, message.payload, refused[session], keep=False)
                )
        if work.dropped:
            logger.info("dropped %d late messages of deleted sessions", work.dropped)
        work.frames = [(p, m) for p, m in work.frames if p.session not in refused]
        work.manifests = [(c, m) for c, m in work.manifests if c.session not in refused]
        work.plates = [(c, m) for c, m in work.plates if c.session not in refused]

    def _drop_earlier_takes(self, work: _Sorted) -> None:
        """Drop frames and manifests of a take a retake superseded (:mod:`cloud.ingest.takes`)."""
        sessions = {p.session for p, _ in work.frames} | {m.session for m, _ in work.manifests}
        if not sessions:
            return
        with transaction(self.factory) as db:
            starts = take_starts(db, sessions)
        if not starts:
            return
        frames = [
            (p, m)
            for p, m in work.frames
            if not before_take(p.capture_ns / 1e9, starts.get(p.session))
        ]
        manifests = [
            (c, m)
            for c, m in work.manifests
            if not before_take(c.started_at, starts.get(c.session))
        ]
        stale = len(work.frames) - len(frames) + len(work.manifests) - len(manifests)
        if stale:
            logger.info("dropped %d late messages of takes superseded by a retake", stale)
            work.dropped += stale
            work.frames, work.manifests = frames, manifests

    def _refuse_resized(self, work: _Sorted) -> None:
        """Refuse frames of another camera size than the node's first of the session."""
        if not work.frames:
            return
        reasons = self.store.check_sizes([p for p, _ in work.frames])
        if not reasons:
            return
        for i, reason in sorted(reasons.items()):
            message = work.frames[i][1]
            logger.error("%s", reason)
            work.refused.append(Refusal(message.topic, message.payload, reason))
        work.frames = [f for i, f in enumerate(work.frames) if i not in reasons]

    def _record_status(self, db: Db, node: str, status: NodeStatus) -> None:
        ensure_booth(db, self.booth)
        row = db.get(Node, (self.booth, node))
        if row is None:
            try:
                with db.begin_nested():  # two uploaders may see a new node's first status
                    db.add(Node(booth_id=self.booth, id=node))
            except IntegrityError:
                pass  # the other uploader added it first
            row = db.get(Node, (self.booth, node))
            assert row is not None
        status_at = datetime.fromtimestamp(status.at, UTC)
        if row.status_at is not None and _aware(row.status_at) > status_at:
            return  # an older status delivered late: keep the newer one
        row.state = status.state.value
        row.session_id = status.session
        row.backend = status.backend
        row.stats = status.stats.model_dump()
        row.plate = status.plate.model_dump() if status.plate is not None else None
        row.status_at = status_at
        row.seen_at = utcnow()


def _check_origin(parsed: ParsedTopic, session: str | None, node: str) -> None:
    """The payload must name the node (and session) its topic does: ACLs guard topics only."""
    if node != parsed.node:
        raise ProtocolError(f"payload from node {node} published on node {parsed.node}'s topic")
    if session != parsed.session:
        raise ProtocolError(f"payload for session {session} on session {parsed.session}'s topic")


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)
