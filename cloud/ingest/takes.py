"""Takes: a retake supersedes the session's earlier take.

A retake keeps the visitor's session (email, consent, dance, place in line) and captures
again under its id, with the nodes numbering frames from 0 again. When the retake starts,
what the earlier take stored goes: its frames and shards (rows and objects), its nodes'
manifests and capture QA's verdict on it. Training, capture QA, the dashboard and a later
deletion then see the new take only, and its frames are not taken for duplicates of the
old ones. Messages of the earlier take still on their way (a node's store-and-forward)
are told apart by their capture time, before the retake's start: the uploader drops them.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.orm import Session as Db

from cloud.db.models import CaptureQa, Frame, Manifest, Session, Shard
from cloud.storage import Storage

logger = logging.getLogger(__name__)

# A node starts a take at the shared start on its own clock, which the API keeps within
# clock.refuse_s (1 s by default) of its own; the earlier take ended before the operator
# asked for the retake, a countdown (5 s by default) before that start.
TAKE_SLACK_S = 1.0


def before_take(captured_at_s: float, take_start: float | None) -> bool:
    """Whether something captured at ``captured_at_s`` (Unix s, a node's clock) belongs
    to a take before the one that starts at ``take_start`` (None: no start recorded)."""
    return take_start is not None and captured_at_s < take_start - TAKE_SLACK_S


def take_starts(db: Db, sessions: set[str]) -> dict[str, float]:
    """The shared start of each session's latest take, where the API recorded one."""
    rows = db.execute(
        select(Session.id, Session.capture_start_at).where(
            Session.id.in_(sessions), Session.capture_start_at.is_not(None)
        )
    ).all()
    return {r.id: float(r.capture_start_at) for r in rows}


def supersede_take(db: Db, storage: Storage, session: str) -> int:
    """Remove the session's stored take (objects first, then rows); return its frames.

    Raises :class:`~cloud.storage.StorageError` if the store fails; the caller's
    transaction then rolls back and the retake can be started again."""
    keys = list(db.scalars(select(Shard.key).where(Shard.session_id == session)))
    for key in keys:
        storage.delete(key)
    frames = db.execute(
        delete(Frame)
        .where(Frame.session_id == session)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    for model in (Shard, Manifest, CaptureQa):
        db.execute(
            delete(model)
            .where(model.session_id == session)
            .execution_options(synchronize_session=False)
        )
    if keys or frames:
        logger.info(
            "session %s: retake; the earlier take's %d frames in %d shards removed",
            session,
            frames,
            len(keys),
        )
    return int(frames)
