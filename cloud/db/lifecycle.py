"""Session lifecycle in the database: create-or-get, and atomic state transitions.

:func:`transition` is the one way to change a session's state: it checks the state
machine, stamps the state's time (``captured_at``, ``uploaded_at``, ``delivered_at``)
and is one ``UPDATE ... WHERE state IN (allowed sources)``, so two processes racing to
move the same session cannot both succeed, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as Db

from cloud.db.models import Booth, Job, JobKind, Session, utcnow
from cloud.db.states import (
    SessionState,
    TransitionError,
    can_transition,
    check_transition,
    sources_of,
)

logger = logging.getLogger(__name__)

_STAMPS: dict[SessionState, str] = {
    SessionState.CAPTURING: "captured_at",
    SessionState.UPLOADED: "uploaded_at",
    SessionState.DELIVERED: "delivered_at",
}


def ensure_booth(db: Db, booth: str) -> Booth:
    """The booth's row, created if missing."""
    row = db.get(Booth, booth)
    if row is None:
        try:
            with db.begin_nested():
                db.add(Booth(id=booth))
        except IntegrityError:
            pass  # another process created it first
        row = db.get(Booth, booth)
        assert row is not None
    return row


def ensure_session(db: Db, booth: str, session: str, state: SessionState) -> Session:
    """The session row, created in ``state`` if the API never registered it."""
    row = db.get(Session, session)
    if row is not None:
        return row
    ensure_booth(db, booth)
    try:
        with db.begin_nested():
            row = Session(id=session, booth_id=booth, state=state)
            if stamp := _STAMPS.get(state):
                setattr(row, stamp, utcnow())
            db.add(row)
    except IntegrityError:
        row = db.get(Session, session)
        assert row is not None
    return row


def transition(
    db: Db, session: str, new: SessionState, error: str | None = None, *, strict: bool = True
) -> bool:
    """Move ``session`` to ``new`` if its current state allows it; True if it moved.

    Raises :class:`TransitionError` if the session is unknown or in a state that can
    never reach ``new`` (with ``strict=False``, for work that may find the operator
    moved the session meanwhile, returns False instead); returns False if it is already
    in ``new`` (a repeated, harmless request). ``error`` replaces the session's error.
    """
    current = db.scalar(select(Session.state).where(Session.id == session))
    if current is None:
        if not strict:
            return False
        raise TransitionError(f"no session {session!r}")
    if current == new:
        return False
    if not strict and not can_transition(current, new):
        return False
    check_transition(current, new)
    values: dict[str, object] = {"state": new, "updated_at": utcnow()}
    if stamp := _STAMPS.get(new):
        values[stamp] = utcnow()
    if error is not None:
        values["error"] = error
    result = db.execute(
        update(Session)
        .where(Session.id == session, Session.state.in_(sources_of(new)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    moved = bool(result.rowcount)  # type: ignore[attr-defined]
    if moved:
        logger.info("session %s: %s -> %s", session, current, new)
    return moved


def enqueue_job(db: Db, session: str, kind: JobKind, max_attempts: int = 3) -> Job:
    """Add a queued job for ``session`` and move the session to ``queued``."""
    job = Job(session_id=session, kind=kind.value, max_attempts=max_attempts)
    db.add(job)
    transition(db, session, SessionState.QUEUED)
    db.flush()
    return job


def state_of(db: Db, session: str) -> SessionState | None:
    return db.scalar(select(Session.state).where(Session.id == session))


def stamp_of(row: Session, state: SessionState) -> datetime | None:
    name = _STAMPS.get(state)
    return getattr(row, name) if name else None
