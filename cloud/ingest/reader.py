"""Reading a session back for training: each (node, seq) exactly once, in order.

The database, not the object store, says which copy of a frame counts: a frame row
names its shard, and a shard may also hold copies that lost the race to another
uploader or were written before a crash. Those are skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.models import Frame
from cloud.storage import Storage
from protocol.errors import ShardError
from protocol.ids import check_id
from protocol.masks import Mask
from protocol.shards import FrameMeta, read_shard


def stored_frames(db: Db, session: str) -> dict[str, dict[int, str]]:
    """``{node: {seq: shard_key}}`` of every stored frame of ``session``."""
    rows = db.execute(
        select(Frame.node_id, Frame.seq, Frame.shard_key).where(Frame.session_id == session)
    ).all()
    out: dict[str, dict[int, str]] = defaultdict(dict)
    for node, seq, key in rows:
        out[node][seq] = key
    return dict(out)


def iter_session_frames(
    storage: Storage, factory: sessionmaker[Db], session: str, node: str | None = None
) -> Iterator[tuple[FrameMeta, bytes]]:
    """Yield ``(meta, jpeg)`` for every stored frame of ``session``: by node, then by seq.

    Raises :class:`~protocol.errors.ShardError` if a shard lacks a frame its row promises.
    """
    for meta, jpeg, _mask in iter_session_frames_masked(storage, factory, session, node):
        yield meta, jpeg


def iter_session_frames_masked(
    storage: Storage, factory: sessionmaker[Db], session: str, node: str | None = None
) -> Iterator[tuple[FrameMeta, bytes, Mask | None]]:
    """:func:`iter_session_frames` with each frame's person mask (uint8 [h, w], 255 =
    person; None where the node sent none)."""
    check_id(session, "session id")
    with factory() as db:
        wanted = stored_frames(db, session)
    for node_id in sorted(wanted):
        if node is not None and node_id != node:
            continue
        seqs = wanted[node_id]
        by_shard: dict[str, set[int]] = defaultdict(set)
        for seq, key in seqs.items():
            by_shard[key].add(seq)
        frames: dict[int, tuple[FrameMeta, bytes, Mask | None]] = {}
        # Shards are read whole; a session's node holds at most a few thousand frames.
        for key, members in by_shard.items():
            for meta, jpeg, mask in read_shard(storage.get(key)):
                if meta.seq in members and meta.session == session and meta.node == node_id:
                    frames.setdefault(meta.seq, (meta, jpeg, mask))
        missing = set(seqs) - set(frames)
        if missing:
            raise ShardError(f"{session}/{node_id}: shards lack frames {sorted(missing)[:10]}")
        for seq in sorted(frames):
            yield frames[seq]
