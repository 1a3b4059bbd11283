"""Storing frames exactly once: shards in the object store, one row per frame.

The order of a flush is what keeps the two consistent across a crash:

0. drop frames whose (session, node, seq) already has a row;
1. reserve a shard index per (session, node) in the database (committed);
2. write each shard object durably;
3. insert the frame rows ``ON CONFLICT (session, node, seq) DO NOTHING`` and mark the
   shards written, in one transaction;
4. only then acknowledge the MQTT messages (done by the caller).

A crash before 3 leaves a shard object no row points to (ignored by readers) and
unacknowledged messages the broker redelivers into a later shard; a crash between 3
and 4 leaves rows for redelivered frames, which step 0 drops as duplicates. A frame
row names the one shard that holds its stored copy. When two uploaders write the same
frames at once (a killed uploader's messages redelivered to both the other one and its
restart), the one whose rows lose the race in step 3 rewrites its shard with only the
frames it did insert, or removes it when none are left, before committing: no frame
stays stored twice, so every reader of the shards sees it once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import Insert, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.engine import transaction
from cloud.db.lifecycle import ensure_session, transition
from cloud.db.models import Frame, Shard, utcnow
from cloud.db.models import Session as SessionRow
from cloud.db.states import SessionState
from cloud.storage import Storage, StorageError
from protocol.codec import FramePacket
from protocol.masks import blank_mask
from protocol.shards import FrameMeta, shard_key, write_shard

logger = logging.getLogger(__name__)

_IN_CHUNK = 500  # bound IN (...) lists; SQLite limits bound parameters per statement
DELETED = "deleted"  # the reason's prefix for a deleted session (see check_sessions)
_ACCEPTING = frozenset(
    {
        SessionState.REGISTERED,
        SessionState.CAPTURING,
        SessionState.RETAKE,
        SessionState.UPLOADED,
        SessionState.QUEUED,
        SessionState.TRAINING,
        SessionState.RENDERING,
        SessionState.DELIVERED,
        SessionState.FAILED,
    }
)


@dataclass
class StoreResult:
    stored: int = 0
    duplicates: int = 0
    shards: int = 0
    bytes: int = 0
    # Stored frames without a person mask (none sent, or an all-zero one, which is not
    # stored): training falls back to the full frame for them.
    unmasked: int = 0


@dataclass
class _Group:
    booth: str
    session: str
    node: str
    packets: list[FramePacket]
    index: int = -1

    @property
    def key(self) -> str:
        return shard_key(self.session, self.node, self.index)


class FrameStore:
    """Writes batches of validated packets into shards + rows, idempotently."""

    def __init__(
        self,
        storage: Storage,
        factory: sessionmaker[Db],
        owner: str = "",
        require_registered: bool = False,
    ) -> None:
        self.storage = storage
        self.factory = factory
        self.owner = owner
        self.require_registered = require_registered

    def check_sessions(self, booth: str, sessions: Iterable[str]) -> dict[str, str]:
        """Sessions that may not take frames, with the reason (for dead-lettering).

        A deleted session's reason starts with :data:`DELETED`: its late traffic is
        dropped, not dead-lettered, so nothing of the visitor outlives their deletion.
        """
        wanted = set(sessions)
        refused: dict[str, str] = {}
        with transaction(self.factory) as db:
            rows = db.execute(
                select(SessionRow.id, SessionRow.state, SessionRow.booth_id).where(
                    SessionRow.id.in_(wanted)
                )
            ).all()
        known = {r.id: r for r in rows}
        for session in wanted:
            row = known.get(session)
            if row is None and self.require_registered:
                refused[session] = f"session {session} was never registered"
            elif row is not None and row.booth_id != booth:
                refused[session] = f"session {session} belongs to booth {row.booth_id}"
            elif row is not None and row.state is SessionState.DELETED:
                refused[session] = f"{DELETED}: session {session} was deleted"
            elif row is not None and row.state not in _ACCEPTING:
                refused[session] = f"session {session} is {row.state}: frames refused"
        return refused

    def check_sizes(self, packets: Sequence[FramePacket]) -> dict[int, str]:
        """Packets (by index) whose camera size differs from their (session, node)'s: the
        size of its stored frames, else of its first packet here. Reason per packet."""
        sizes: dict[tuple[str, str], tuple[int, int]] = {}
        with transaction(self.factory) as db:
            for session, node in {(p.session, p.node) for p in packets}:
                row = db.execute(
                    select(Frame.width, Frame.height)
                    .where(Frame.session_id == session, Frame.node_id == node)
                    .where(Frame.width.is_not(None))
                    .limit(1)
                ).first()
                if row is not None:
                    sizes[(session, node)] = (int(row[0] or 0), int(row[1] or 0))
        refused: dict[int, str] = {}
        for i, p in enumerate(packets):
            want = sizes.setdefault((p.session, p.node), (p.width, p.height))
            if (p.width, p.height) != want:
                refused[i] = (
                    f"node {p.node} changed its camera resolution mid-session {p.session}: "
                    f"frame {p.seq} is {p.width}x{p.height}, the session's frames are "
                    f"{want[0]}x{want[1]}; refused (the frames already stored are kept). "
                    "Keep the camera size fixed during a capture, or retake the session"
                )
        return refused

    def store(self, booth: str, packets: Sequence[FramePacket]) -> StoreResult:
        """Store every packet whose (session, node, seq) is not stored yet."""
        result = StoreResult()
        groups = self._plan(booth, packets)
        if not groups:
            result.duplicates = len(packets)
            return result
        for group in groups:
            result.bytes += self.storage.put_stream(
                group.key, _shard_writer(group.packets), "application/x-tar"
            )
        empty: list[str] = []
        with transaction(self.factory) as db:
            for group in groups:
                inserted = self._insert_rows(db, group)
                result.stored += len(inserted)
                result.unmasked += sum(
                    1 for p in group.packets if p.seq in inserted and blank_mask(p.mask)
                )
                if len(inserted) < len(group.packets):
                    empty += self._trim(db, group, inserted)
        for key in empty:
            self._remove(key)
        result.shards = len(groups) - len(empty)
        result.duplicates = len(packets) - result.stored
        return result

    def _trim(self, db: Db, group: _Group, inserted: set[int]) -> list[str]:
        """Another uploader stored some of ``group``'s frames first: keep only ours."""
        logger.info(
            "%d of %d frames of %s were stored by another uploader meanwhile",
            len(group.packets) - len(inserted),
            len(group.packets),
            group.key,
        )
        group.packets = [p for p in group.packets if p.seq in inserted]
        if not group.packets:
            db.execute(delete(Shard).where(Shard.key == group.key))
            return [group.key]  # removed once the transaction commits
        self.storage.put_stream(group.key, _shard_writer(group.packets), "application/x-tar")
        db.execute(
            update(Shard)
            .where(Shard.key == group.key)
            .values(frames=len(group.packets), bytes=sum(len(p.jpeg) for p in group.packets))
        )
        return []

    def _remove(self, key: str) -> None:
        try:
            self.storage.delete(key)
        except StorageError as exc:  # no row names it: readers ignore it, the sweep removes it
            logger.warning("could not remove the empty shard %s: %s", key, exc)

    def _plan(self, booth: str, packets: Sequence[FramePacket]) -> list[_Group]:
        """Drop stored and repeated frames; reserve a shard per (session, node) left."""
        by_key: dict[tuple[str, str], dict[int, FramePacket]] = defaultdict(dict)
        for p in packets:
            by_key[(p.session, p.node)].setdefault(p.seq, p)  # first copy wins in a batch
        groups = []
        with transaction(self.factory) as db:
            for (session, node), frames in by_key.items():
                have = _stored_seqs(db, session, node, list(frames))
                fresh = [frames[s] for s in sorted(frames) if s not in have]
                if not fresh:
                    continue
                row = ensure_session(db, booth, session, SessionState.CAPTURING)
                if row.state in (SessionState.REGISTERED, SessionState.RETAKE):
                    transition(db, session, SessionState.CAPTURING)
                index = _reserve_index(db, session, node, self.owner)
                groups.append(_Group(booth, session, node, fresh, index))
        return groups

    def _insert_rows(self, db: Db, group: _Group) -> set[int]:
        rows = [
            {
                "session_id": p.session,
                "node_id": p.node,
                "seq": p.seq,
                "shard_key": group.key,
                "capture_ns": p.capture_ns,
                "jpeg_bytes": len(p.jpeg),
                "flags": p.flags,
                "width": p.width,
                "height": p.height,
                "stored_at": utcnow(),
            }
            for p in group.packets
        ]
        # One cached statement, executed many times ("insertmanyvalues" batches it);
        # RETURNING counts what was inserted on every backend (rowcount may be -1).
        stmt = _insert_ignoring_duplicates(db).returning(Frame.seq)
        inserted = {int(seq) for (seq,) in db.connection().execute(stmt, rows).all()}
        db.execute(
            update(Shard)
            .where(Shard.key == group.key)
            .values(frames=len(rows), bytes=sum(r["jpeg_bytes"] for r in rows), written_at=utcnow())
        )
        return inserted


def _shard_writer(packets: list[FramePacket]) -> Callable[[BinaryIO], None]:
    def write(f: BinaryIO) -> None:
        write_shard(
            f,
            (
                (FrameMeta.from_packet(p), p.jpeg, None if blank_mask(p.mask) else p.mask)
                for p in packets
            ),
        )

    return write


def _stored_seqs(db: Db, session: str, node: str, seqs: list[int]) -> set[int]:
    have: set[int] = set()
    for i in range(0, len(seqs), _IN_CHUNK):
        chunk = seqs[i : i + _IN_CHUNK]
        have.update(
            db.scalars(
                select(Frame.seq).where(
                    Frame.session_id == session, Frame.node_id == node, Frame.seq.in_(chunk)
                )
            )
        )
    return have


def _reserve_index(db: Db, session: str, node: str, owner: str) -> int:
    for _ in range(20):  # another uploader may take the same index; try the next
        last = db.scalar(
            select(func.max(Shard.index)).where(Shard.session_id == session, Shard.node_id == node)
        )
        index = 0 if last is None else last + 1
        try:
            with db.begin_nested():
                db.add(
                    Shard(
                        session_id=session,
                        node_id=node,
                        index=index,
                        key=shard_key(session, node, index),
                        owner=owner,
                    )
                )
            return index
        except IntegrityError:
            continue
    raise RuntimeError(f"could not reserve a shard index for {session}/{node}")


def _insert_ignoring_duplicates(db: Db) -> Insert:
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(Frame).on_conflict_do_nothing(
            constraint="uq_frames_session_node_seq"
        )
    if dialect == "sqlite":
        return sqlite.insert(Frame).on_conflict_do_nothing()
    return insert(Frame)
