"""Which models the live mirror wears: the booth's choice of visitors, kept to the ones
still allowed, and what each mirror reports back.

An operator picks delivered visitors whose fine-tuned models the mirror wears ("dance as
…" is a lineup of one; several rotate). A visitor is allowed only while:

- they ticked the kiosk's extra box (``sessions.mirror_consent_until`` in the future);
- their video was delivered (the model exists and was checked by the quality gate);
- their model was not deleted, by them (the session is ``deleted``) or by retention.

The mirror asks :meth:`Lineup.wanted` about once a second, so a deletion, an expired
consent or an operator's change reaches it within that second: it drops the model from
its lineup and its disk at once, even mid-dance. An empty lineup means the booth
checkpoint (and ``mirror.playlist``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.engine import transaction
from cloud.db.lifecycle import ensure_booth
from cloud.db.models import Booth, MirrorStatus, Session, utcnow
from cloud.db.states import SessionState
from cloud.storage.keys import model_key

MODEL_NAME = "best.safetensors"
REPORT_EVERY_S = 10.0  # a mirror's report doubles as its heartbeat on the dashboard
STALE_AFTER_S = 3 * REPORT_EVERY_S


@dataclass(frozen=True)
class Wearer:
    """A visitor's model the mirror may wear."""

    session_id: str
    key: str  # the model's object key
    consent_until: datetime


def allowed(row: Session | None, booth: str, now: datetime) -> str | None:
    """Why ``row``'s model may not be worn at ``booth`` now; None: it may."""
    if row is None or row.state is SessionState.DELETED or row.booth_id != booth:
        return "no such visitor at this booth"
    if row.mirror_consent_until is None:
        return "the visitor did not agree to be shown live at the booth"
    if row.mirror_consent_until <= now:
        return "the visitor's consent to be shown live has expired"
    if row.model_deleted_at is not None:
        return "the visitor's model was deleted"
    if row.state is not SessionState.DELIVERED:
        return f"the visitor's video is not delivered yet ({row.state.value})"
    return None


def candidates(db: Db, booth: str, now: datetime | None = None) -> list[Session]:
    """The visitors an operator may pick now, latest delivery first."""
    now = now or utcnow()
    rows = db.scalars(
        select(Session)
        .where(
            Session.booth_id == booth,
            Session.state == SessionState.DELIVERED,
            Session.mirror_consent_until > now,
            Session.model_deleted_at.is_(None),
        )
        .order_by(Session.delivered_at.desc())
        .limit(200)
    ).all()
    return list(rows)


def wearers(db: Db, booth: str, now: datetime | None = None) -> list[Wearer]:
    """The booth's chosen visitors that are still allowed, in the operator's order."""
    now = now or utcnow()
    row = db.get(Booth, booth)
    chosen = list(row.mirror_wearers or []) if row is not None else []
    out = []
    for sid in chosen:
        session = db.get(Session, sid)
        if session is not None and allowed(session, booth, now) is None:
            assert session.mirror_consent_until is not None
            out.append(Wearer(sid, model_key(sid, MODEL_NAME), session.mirror_consent_until))
    return out


def choose(db: Db, booth: str, chosen: list[str], now: datetime | None = None) -> list[str]:
    """Set the booth's lineup to ``chosen`` (deduplicated, in order); raises ValueError
    naming the first visitor who may not be worn, and why."""
    now = now or utcnow()
    ids = list(dict.fromkeys(chosen))
    for sid in ids:
        why = allowed(db.get(Session, sid), booth, now)
        if why is not None:
            raise ValueError(f"visitor {sid} cannot be shown live: {why}")
    row = ensure_booth(db, booth)
    row.mirror_wearers = ids
    return ids


def reports(db: Db, booth: str) -> list[MirrorStatus]:
    return list(
        db.scalars(
            select(MirrorStatus)
            .where(MirrorStatus.booth_id == booth)
            .order_by(MirrorStatus.node_id)
        )
    )


def is_stale(report: MirrorStatus, now: datetime | None = None) -> bool:
    return ((now or utcnow()) - report.seen_at) > timedelta(seconds=STALE_AFTER_S)


class Lineup:
    """The mirror's side: its booth's wanted wearers, and its reports (own DB sessions)."""

    def __init__(self, factory: sessionmaker[Db], booth: str, node: str) -> None:
        self.factory, self.booth, self.node = factory, booth, node

    def wanted(self) -> list[Wearer]:
        with self.factory() as db:
            return wearers(db, self.booth)

    def report(self, wearing: str, session_id: str | None, error: str | None) -> None:
        """Record what the mirror wears now (and the last model it refused)."""
        with transaction(self.factory) as db:
            row = db.get(MirrorStatus, (self.booth, self.node))
            if row is None:
                row = MirrorStatus(booth_id=self.booth, node_id=self.node)
                db.add(row)
            row.wearing, row.session_id, row.error = wearing[:200], session_id, error
            row.seen_at = utcnow()
