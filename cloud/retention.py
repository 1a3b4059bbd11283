"""Retention: which parts of a visitor's data go when, and the one function that erases them.

A session's data comes in three parts, each under the session's object-store prefix
(:func:`protocol.shards.session_prefix`) plus its database rows:

============  ==========================================  =============================
part          objects                                     rows
============  ==========================================  =============================
captures      ``{node}/shard-*.tar``, ``{node}/plate.jpg``   frames, shards, manifests,
              (every non-part key)                        plates, plate_parts
model         ``model/`` (weights, resumable state)        —
rendition     ``renditions/`` (MP4, report)                the rendition and its link
============  ==========================================  =============================

:func:`erase` removes some parts (retention) or all of them plus the jobs, dead
letters and email (the visitor's deletion request, which leaves an anonymised
``deleted`` tombstone); the API's delete path and the sweep both call it. Removing the
captures also asks every node of the booth to erase the session from its spool
(:mod:`cloud.node_erasure`). Every part
removed is stamped on the session (``captures_deleted_at`` …), so the row says what
is gone and when.

Objects are deleted before rows, one session per transaction: a sweep that stops
midway (the store failing on one object) leaves the rows saying what is still there,
and running it again finishes the job (deleting an object twice is harmless).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud import node_erasure
from cloud.db.engine import transaction
from cloud.db.lifecycle import transition
from cloud.db.models import (
    DeadLetter,
    Frame,
    Job,
    Mail,
    Manifest,
    Plate,
    PlatePart,
    Rendition,
    Session,
    Shard,
    utcnow,
)
from cloud.db.states import SessionState
from cloud.delivery.mailer import Mailer
from cloud.jobs.queue import as_utc
from cloud.settings import RetentionSettings
from cloud.storage import Storage, StorageError
from protocol.shards import session_prefix

logger = logging.getLogger(__name__)

S = SessionState
# Work is running on the session's data: retention waits until it settles.
BUSY: Final = (S.CAPTURING, S.UPLOADED, S.QUEUED, S.TRAINING, S.RENDERING)


class Part(StrEnum):
    CAPTURES = "captures"
    MODEL = "model"
    RENDITION = "rendition"


ALL_PARTS: Final = frozenset(Part)
_STAMP: Final = {
    Part.CAPTURES: "captures_deleted_at",
    Part.MODEL: "model_deleted_at",
    Part.RENDITION: "rendition_deleted_at",
}
_SUBPREFIX: Final = {Part.MODEL: "model/", Part.RENDITION: "renditions/"}


@dataclass(frozen=True)
class Removal:
    """What to remove from one session; ``visitor`` erases everything and anonymises."""

    session_id: str
    parts: frozenset[Part]
    visitor: bool = False
    why: str = ""


@dataclass
class Erased:
    """What :func:`erase` removed (or, in a dry run, would remove)."""

    session_id: str
    parts: frozenset[Part]
    visitor: bool
    objects: list[str]
    rows: dict[str, int] = field(default_factory=dict)
    nodes: list[str] = field(default_factory=list)  # asked to erase it from their spools


def part_of(session_id: str, key: str) -> Part:
    rest = key.removeprefix(session_prefix(session_id))
    for part, sub in _SUBPREFIX.items():
        if rest.startswith(sub):
            return part
    return Part.CAPTURES  # shards sit under their node's id


def object_keys(db: Db, storage: Storage, removal: Removal) -> list[str]:
    """Every stored object the removal covers (listed, plus shard keys the rows name)."""
    sid = removal.session_id
    keys = set(storage.list_keys(session_prefix(sid)))
    if not removal.visitor:
        keys = {k for k in keys if part_of(sid, k) in removal.parts}
    if removal.visitor or Part.CAPTURES in removal.parts:
        keys.update(db.scalars(select(Shard.key).where(Shard.session_id == sid)))
        keys.update(db.scalars(select(Plate.key).where(Plate.session_id == sid)))
    return sorted(keys)


def _row_filters(removal: Removal) -> dict[str, tuple[type[Any], ColumnElement[bool]]]:
    sid = removal.session_id
    rows: dict[str, tuple[type[Any], ColumnElement[bool]]] = {}
    if removal.visitor or Part.CAPTURES in removal.parts:
        rows["frames"] = (Frame, Frame.session_id == sid)
        rows["shards"] = (Shard, Shard.session_id == sid)
        rows["manifests"] = (Manifest, Manifest.session_id == sid)
        rows["plates"] = (Plate, Plate.session_id == sid)
        rows["plate_parts"] = (PlatePart, PlatePart.session_id == sid)
    if removal.visitor or Part.RENDITION in removal.parts:
        rows["renditions"] = (Rendition, Rendition.session_id == sid)
    if removal.visitor:
        rows["jobs"] = (Job, Job.session_id == sid)
        rows["mails"] = (Mail, Mail.session_id == sid)  # each holds the address, maybe the link
        # A refused payload is linked to a session only through its topic.
        rows["dead_letters"] = (
            DeadLetter,
            or_(
                DeadLetter.topic.like(f"%/frames/{sid}"),
                DeadLetter.topic.like(f"%/manifest/{sid}"),
                DeadLetter.topic.like(f"%/plate/{sid}"),
            ),
        )
    return rows


def erase(
    db: Db,
    storage: Storage,
    removal: Removal,
    *,
    dry_run: bool = False,
    mailer: Mailer | None = None,
) -> Erased:
    """Remove the parts ``removal`` names: objects first, then rows, then the tombstone.

    A visitor's erasure also deletes the copies of their emails ``mailer`` keeps (the
    outbox folder); the email rows in the database go with the other rows.

    Raises :class:`~cloud.storage.StorageError` if the store fails; nothing in the
    database changes then (the caller's transaction rolls back), so it can be re-run.
    """
    sid = removal.session_id
    parts = ALL_PARTS if removal.visitor else removal.parts
    keys = object_keys(db, storage, removal)
    filters = _row_filters(removal)
    done = Erased(sid, parts, removal.visitor, keys)
    if dry_run:
        for name, (model, where) in filters.items():
            done.rows[name] = db.scalar(select(func.count()).select_from(model).where(where)) or 0
        return done
    for key in keys:
        storage.delete(key)
    if removal.visitor or Part.CAPTURES in parts:  # before the frame rows naming the nodes go
        done.nodes = node_erasure.request(db, sid)
    if removal.visitor and mailer is not None:
        done.rows["mail_copies"] = mailer.forget(sid)
    for name, (model, where) in filters.items():
        result = db.execute(delete(model).where(where).execution_options(synchronize_session=False))
        done.rows[name] = int(result.rowcount)  # type: ignore[attr-defined]
    _tombstone(db, removal, parts)
    logger.info(
        "session %s: removed %s (%d objects, rows %s)%s",
        sid,
        ", ".join(sorted(parts)),
        len(keys),
        done.rows,
        " — visitor erased" if removal.visitor else "",
    )
    return done


def _tombstone(db: Db, removal: Removal, parts: frozenset[Part]) -> None:
    row = db.get(Session, removal.session_id)
    if row is None:
        return
    if removal.visitor and row.state is not SessionState.DELETED:
        transition(db, row.id, SessionState.DELETED)
        db.refresh(row)
    now = utcnow()
    for part in parts:
        if getattr(row, _STAMP[part]) is None:
            setattr(row, _STAMP[part], now)
    if removal.visitor:
        row.email, row.error = None, None
    db.flush()


def due(db: Db, policy: RetentionSettings, now: datetime | None = None) -> list[Removal]:
    """Every removal the policy asks for at ``now``: the sweep's plan."""
    now = now or utcnow()
    captures_cut = now - timedelta(days=policy.captures_days)
    models_cut = now - timedelta(days=policy.models_days)
    links_cut = now - timedelta(days=policy.rendition_grace_days)
    captured = func.coalesce(Session.captured_at, Session.created_at)
    expired = select(Rendition.session_id).where(Rendition.expires_at < links_cut)
    rows = db.execute(
        select(Session, Rendition.expires_at)
        .outerjoin(Rendition, Rendition.session_id == Session.id)
        .where(
            Session.state.not_in((*BUSY, SessionState.DELETED)),
            or_(
                (Session.captures_deleted_at.is_(None) & (captured < captures_cut)),
                (Session.model_deleted_at.is_(None) & (captured < models_cut)),
                Session.id.in_(expired),
            ),
        )
        .order_by(Session.created_at)
    ).all()
    plan = []
    for row, expires_at in rows:
        parts, when = set(), as_utc(row.captured_at or row.created_at)
        if row.captures_deleted_at is None and when < captures_cut:
            parts.add(Part.CAPTURES)
        if row.model_deleted_at is None and when < models_cut:
            parts.add(Part.MODEL)
            if expires_at is None:  # a held video nobody approved goes with its model
                parts.add(Part.RENDITION)
        if expires_at is not None and as_utc(expires_at) < links_cut:
            parts.add(Part.RENDITION)
        if parts:
            plan.append(Removal(row.id, frozenset(parts), why=f"captured {when:%Y-%m-%d}"))
    return plan


LEFTOVER_WINDOW: Final = timedelta(days=2)


def leftovers(db: Db, storage: Storage, now: datetime | None = None) -> list[Removal]:
    """Recently deleted visitors with objects again under their prefix: a worker that was
    mid-step when the deletion came may have stored one last file; erase it too."""
    since = (now or utcnow()) - LEFTOVER_WINDOW
    deleted = db.scalars(
        select(Session.id).where(Session.state == SessionState.DELETED, Session.updated_at > since)
    ).all()
    return [
        Removal(sid, ALL_PARTS, visitor=True, why="left over after deletion")
        for sid in deleted
        if next(iter(storage.list_keys(session_prefix(sid))), None) is not None
    ]


@dataclass
class SweepReport:
    erased: list[Erased] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    dead_letters: int = 0  # expired dead letters removed (or, in a dry run, due)


def expire_dead_letters(db: Db, policy: RetentionSettings, now: datetime, dry_run: bool) -> int:
    """Dead letters older than ``policy.dead_letters_days``: refused payloads are kept for
    diagnosis, not for ever (a refused frame may show a visitor)."""
    old = DeadLetter.received_at < now - timedelta(days=policy.dead_letters_days)
    if dry_run:
        return db.scalar(select(func.count()).select_from(DeadLetter).where(old)) or 0
    result = db.execute(delete(DeadLetter).where(old).execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def sweep(
    factory: sessionmaker[Db],
    storage: Storage,
    policy: RetentionSettings,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    progress: Callable[[Removal], None] | None = None,
    mailer: Mailer | None = None,
) -> SweepReport:
    """Apply the policy once; a session the store fails on is reported and retried next time."""
    with factory() as db:
        plan = due(db, policy, now) + leftovers(db, storage, now)
    report = SweepReport()
    with transaction(factory) as db:
        report.dead_letters = expire_dead_letters(db, policy, now or utcnow(), dry_run)
    for removal in plan:
        try:
            with transaction(factory) as db:
                state = db.scalar(select(Session.state).where(Session.id == removal.session_id))
                if not removal.visitor and (state in BUSY or state is SessionState.DELETED):
                    continue  # it moved on since the plan was made
                report.erased.append(erase(db, storage, removal, dry_run=dry_run, mailer=mailer))
        except StorageError as exc:
            logger.warning("retention: session %s not finished: %s", removal.session_id, exc)
            report.failed[removal.session_id] = str(exc)
        if progress is not None:
            progress(removal)
    return report


class PeriodicSweep:
    """Runs :func:`sweep` at most every ``policy.sweep_every_s`` (the worker calls it when idle)."""

    def __init__(
        self,
        factory: sessionmaker[Db],
        storage: Storage,
        policy: RetentionSettings,
        mailer: Mailer | None = None,
    ) -> None:
        self.factory, self.storage, self.policy, self.mailer = factory, storage, policy, mailer
        self._last: float | None = None

    def __call__(self) -> None:
        self.run_if_due()

    def run_if_due(self) -> SweepReport | None:
        """Sweep if the interval has passed since the last sweep; its report, else None."""
        every = self.policy.sweep_every_s
        if not every or (self._last is not None and time.monotonic() - self._last < every):
            return None
        self._last = time.monotonic()
        try:
            report = sweep(self.factory, self.storage, self.policy, mailer=self.mailer)
        except Exception:  # a failed sweep must not stop the worker; the next one retries
            logger.exception("retention sweep failed")
            return None
        if report.erased or report.failed:
            logger.info(
                "retention sweep: %d sessions cleaned, %d to retry",
                len(report.erased),
                len(report.failed),
            )
        return report
