"""Deleting everything from an event: every visitor of a booth, confirmed in two steps.

At the end of an event the operator erases every session of the booth: captures, models,
renditions, emails, jobs and dead letters, through the same
:func:`cloud.retention.erase` a visitor's own deletion uses (each session keeps its
anonymised ``deleted`` tombstone saying what went and when). Because it cannot be
undone it takes two steps: :func:`plan_erasure` says what would go and gives a
confirmation code derived from exactly that set of sessions; :func:`erase_event` runs
only with that code, so a visitor who registered in between is not deleted unseen.
Both steps are logged with who asked.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.engine import transaction
from cloud.db.models import DeadLetter, Session
from cloud.db.states import SessionState
from cloud.retention import ALL_PARTS, BUSY, Removal, erase
from cloud.storage import Storage, StorageError

logger = logging.getLogger(__name__)


class ErasureError(Exception):
    """The event erasure cannot run as asked; the message says what to do."""


@dataclass(frozen=True)
class ErasurePlan:
    booth: str
    sessions: tuple[str, ...]  # every session of the booth not already deleted
    busy: tuple[str, ...]  # of those, the ones a capture or a job is working on
    dead_letters: int
    code: str  # what the second step must repeat


@dataclass
class ErasureReport:
    booth: str
    erased: list[str] = field(default_factory=list)
    objects: int = 0
    dead_letters: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def _code(booth: str, sessions: tuple[str, ...]) -> str:
    digest = hashlib.sha256("\n".join((booth, *sessions)).encode()).hexdigest()
    return digest[:8]


def _dead_letters(booth: str) -> ColumnElement[bool]:
    return DeadLetter.topic.like(f"%/{booth}/node/%")


def plan_erasure(db: Db, booth: str) -> ErasurePlan:
    """What erasing the event would delete now, and the code that confirms it."""
    rows = db.execute(
        select(Session.id, Session.state)
        .where(Session.booth_id == booth, Session.state != SessionState.DELETED)
        .order_by(Session.id)
    ).all()
    sessions = tuple(sid for sid, _ in rows)
    busy = tuple(sid for sid, state in rows if state in BUSY)
    letters = len(db.scalars(select(DeadLetter.id).where(_dead_letters(booth))).all())
    return ErasurePlan(booth, sessions, busy, letters, _code(booth, sessions))


def erase_event(
    factory: sessionmaker[Db],
    storage: Storage,
    booth: str,
    code: str,
    who: str,
    *,
    typed: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ErasureReport:
    """Erase every session of ``booth`` if ``code`` matches the current plan (and ``typed``,
    the booth id the operator typed, if given, is the booth's).

    Raises :class:`ErasureError` when not (e.g. the sessions changed since the plan was
    shown). A session the store fails on is reported in ``failed``; running the erasure
    again finishes it.
    """
    if typed is not None and typed.strip() != booth:
        raise ErasureError(f"type the booth id {booth!r} to confirm (got {typed!r})")
    with factory() as db:
        plan = plan_erasure(db, booth)
    if code.strip().lower() != plan.code:
        raise ErasureError(
            f"confirmation code {code!r} does not match what would be deleted now "
            f"({len(plan.sessions)} sessions of booth {booth}): ask for the plan again"
        )
    logger.warning(
        "%s is erasing every visitor of booth %s: %d sessions (%d in progress)",
        who,
        booth,
        len(plan.sessions),
        len(plan.busy),
    )
    report = ErasureReport(booth)
    for sid in plan.sessions:
        removal = Removal(sid, ALL_PARTS, visitor=True, why=f"event erased by {who}")
        try:
            with transaction(factory) as db:
                done = erase(db, storage, removal)
            report.objects += len(done.objects)
            report.dead_letters += done.rows.get("dead_letters", 0)
            report.erased.append(sid)
        except StorageError as exc:
            logger.warning("event erasure: session %s not finished: %s", sid, exc)
            report.failed[sid] = str(exc)
        if progress is not None:
            progress(sid)
    with transaction(factory) as db:
        result = db.execute(delete(DeadLetter).where(_dead_letters(booth)))
        report.dead_letters += int(result.rowcount)  # type: ignore[attr-defined]
    logger.warning(
        "%s erased booth %s: %d sessions, %d objects, %d dead letters; %d to retry",
        who,
        booth,
        len(report.erased),
        report.objects,
        report.dead_letters,
        len(report.failed),
    )
    return report
