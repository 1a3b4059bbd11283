"""What the booth does with a visitor's session: register, call, capture, retake.

Functions take a database session and raise :mod:`cloud.api.errors`; the routes
turn those into HTTP status codes.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session as Db

from cloud.api import qa
from cloud.api.errors import ConflictError, NotFoundError
from cloud.api.quality import rendition_quality
from cloud.api.schemas import (
    JobView,
    MailView,
    NodeView,
    PlateView,
    VisitorStatus,
    VisitorView,
)
from cloud.api.stage import dance_length_s
from cloud.db.booths import booth_capture_mode
from cloud.db.lifecycle import ensure_booth, transition
from cloud.db.models import (
    Job,
    JobState,
    Mail,
    MailState,
    Manifest,
    Node,
    Plate,
    Session,
    utcnow,
)
from cloud.db.states import SessionState, TransitionError
from cloud.ingest.plates import PERSON_WARNING
from cloud.ingest.takes import supersede_take
from cloud.jobs.queue import as_utc
from cloud.settings import ApiSettings
from cloud.storage import Storage
from protocol.ids import new_session_id
from protocol.messages import CaptureCancel, CaptureStart, PlateInfo

logger = logging.getLogger(__name__)

WAITING = (SessionState.REGISTERED, SessionState.RETAKE)
UPLOADING = (SessionState.CAPTURING, SessionState.UPLOADED)
NODE_OFFLINE_AFTER_S = 30.0  # no status for this long: shown offline even without a last will


def register(
    db: Db,
    booth: str,
    email: str,
    dance: str | None = None,
    mirror_consent_hours: float | None = None,
) -> Session:
    """A visitor in line; ``mirror_consent_hours``: they also let the live mirror wear
    their model for that long."""
    ensure_booth(db, booth)
    now = utcnow()
    row = Session(
        id=new_session_id(), booth_id=booth, email=email, consent=True, consent_at=now, dance=dance
    )
    if mirror_consent_hours is not None:
        row.mirror_consent_until = now + timedelta(hours=mirror_consent_hours)
    db.add(row)
    db.flush()
    logger.info("visitor registered: session %s", row.id)
    return row


def get_session(db: Db, session_id: str) -> Session:
    row = db.get(Session, session_id)
    if row is None or row.state is SessionState.DELETED:
        raise NotFoundError(f"no visitor session {session_id!r}")
    return row


def status(db: Db, session_id: str) -> VisitorStatus:
    row = get_session(db, session_id)
    position = None
    if row.state in WAITING:
        position = db.scalar(
            select(func.count()).where(
                Session.state.in_(WAITING),
                Session.created_at < row.created_at,
                Session.booth_id == row.booth_id,
            )
        )
    reasons = qa.retake_reasons(db, row.id) if row.state is SessionState.UPLOADED else []
    return VisitorStatus(id=row.id, state=row.state, position=position, retake_reasons=reasons)


def next_waiting(db: Db, booth: str) -> Session:
    row = db.scalar(
        select(Session)
        .where(Session.booth_id == booth, Session.state.in_(WAITING), Session.consent.is_(True))
        .order_by(Session.created_at)
        .limit(1)
    )
    if row is None:
        raise NotFoundError("nobody is waiting: ask the next visitor to register at the kiosk")
    return row


def capture_length(db: Db, session_id: str, api: ApiSettings, default_dance: str) -> float:
    """Seconds the session's capture lasts: in guided mode (the booth's choice, else the
    deployment's) its dance's length (capped at ``api.guided_max_s``), so the visitor
    dances along to every pose that is rendered."""
    row = get_session(db, session_id)
    mode = booth_capture_mode(db, row.booth_id)
    return api.capture_length(dance_length_s(db, row.dance or default_dance), mode)


def start_capture(
    db: Db, storage: Storage, session_id: str, countdown_s: float, duration_s: float
) -> CaptureStart:
    """Move the session to capturing and build the command every node starts on. A
    retake supersedes the session's earlier take (:mod:`cloud.ingest.takes`)."""
    row = get_session(db, session_id)
    if not row.consent:
        raise ConflictError(
            f"session {session_id} has no recorded consent: the visitor must register at the "
            "kiosk and tick the consent box before they can be captured"
        )
    if row.state not in WAITING:
        raise ConflictError(
            f"session {session_id} is {row.state}; only a registered visitor or a retake can "
            "start a capture (use retake first)"
        )
    if row.state is SessionState.RETAKE:
        supersede_take(db, storage, row.id)
    move(db, row, SessionState.CAPTURING)
    command = CaptureStart(
        session=row.id, start_at=time.time() + countdown_s, duration_s=duration_s
    )
    row.capture_start_at, row.capture_s = command.start_at, command.duration_s
    return command


def retake(db: Db, session_id: str, reason: str, only_capturing: bool = False) -> CaptureCancel:
    """Stop any capture or queued work for the session and put it back in line."""
    row = get_session(db, session_id)
    if only_capturing and row.state is not SessionState.CAPTURING:
        raise ConflictError(
            f"session {session_id} is {row.state}, not capturing: nothing to "
            "cancel (use retake to throw away a finished take)"
        )
    _cancel_jobs(db, row.id, reason)
    move(db, row, SessionState.RETAKE)
    return CaptureCancel(session=row.id, reason=reason)


def move(db: Db, row: Session, new: SessionState) -> None:
    try:
        moved = transition(db, row.id, new)
    except TransitionError as exc:
        raise ConflictError(str(exc)) from None
    if not moved and row.state is not new:
        raise ConflictError(f"session {row.id} changed meanwhile; reload and try again")
    db.refresh(row)


def _cancel_jobs(db: Db, session_id: str, reason: str) -> None:
    db.execute(
        update(Job)
        .where(Job.session_id == session_id, Job.state.in_((JobState.QUEUED, JobState.RUNNING)))
        .values(
            state=JobState.CANCELLED,
            error=reason,
            finished_at=utcnow(),
            lease_owner=None,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )


def job_view(job: Job, position: int | None, eta_s: float | None) -> JobView:
    return JobView(
        id=job.id,
        session_id=job.session_id,
        kind=job.kind,
        state=job.state,
        step=job.step,
        progress=job.progress,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        error=job.error,
        position=position,
        eta_s=eta_s,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


def list_jobs(db: Db, estimates: dict[int, float], limit: int = 200) -> list[JobView]:
    jobs = db.scalars(select(Job).order_by(Job.id.desc()).limit(limit)).all()
    order = {job_id: pos for pos, job_id in enumerate(estimates, start=1)}
    views = []
    for job in jobs:
        eta = estimates.get(job.id, job.eta_s if job.state is JobState.RUNNING else None)
        views.append(job_view(job, order.get(job.id), eta))
    return views


def list_visitors(db: Db, booth: str, jobs: list[JobView], limit: int = 200) -> list[VisitorView]:
    latest: dict[str, JobView] = {}
    for job in sorted(jobs, key=lambda j: j.id):
        latest[job.session_id] = job
    rows = db.scalars(
        select(Session)
        .where(Session.booth_id == booth, Session.state != SessionState.DELETED)
        .order_by(Session.created_at.desc())
        .limit(limit)
    ).all()
    uploads = upload_progress(db, [r.id for r in rows if r.state in UPLOADING])
    mails = latest_mails(db, [r.id for r in rows])
    plates = plate_warnings(db, [r.id for r in rows])
    verdicts = qa.views(db, [r.id for r in rows])
    quality = rendition_quality(db, [r.id for r in rows])
    return [
        VisitorView(
            id=r.id,
            email=r.email,
            consent=r.consent,
            state=r.state,
            error=r.error,
            created_at=r.created_at,
            updated_at=r.updated_at,
            job=latest.get(r.id),
            upload=uploads.get(r.id),
            mail=mails.get(r.id),
            plate_warning=plates.get(r.id),
            qa=verdicts.get(r.id),
            quality=quality.get(r.id),
        )
        for r in rows
    ]


def plate_warnings(db: Db, sessions: list[str]) -> dict[str, str]:
    """Each session's first plate warning (cloud.ingest.plates), by session."""
    out: dict[str, str] = {}
    for i in range(0, len(sessions), 500):
        rows = db.execute(
            select(Plate.session_id, Plate.node_id, Plate.warning)
            .where(Plate.session_id.in_(sessions[i : i + 500]), Plate.warning.is_not(None))
            .order_by(Plate.node_id)
        ).all()
        for sid, node, warning in rows:
            out.setdefault(sid, f"{node}: {warning}")
    return out


def latest_mails(db: Db, sessions: list[str]) -> dict[str, MailView]:
    """Each session's newest email (its delivery state), for the operator's list."""
    if not sessions:
        return {}
    newest = (
        select(func.max(Mail.id)).where(Mail.session_id.in_(sessions)).group_by(Mail.session_id)
    )
    return {
        m.session_id: MailView(
            state=m.state.value,
            attempts=m.attempts,
            error=m.error,
            next_attempt_at=as_utc(m.next_attempt_at) if m.state is MailState.PENDING else None,
            sent_at=as_utc(m.sent_at) if m.sent_at else None,
        )
        for m in db.scalars(select(Mail).where(Mail.id.in_(newest)))
    }


def upload_progress(db: Db, sessions: list[str]) -> dict[str, float]:
    """Frames stored ÷ frames the nodes' manifests announced, per session (once any arrived)."""
    if not sessions:
        return {}
    rows = db.execute(
        select(Manifest.session_id, func.sum(Manifest.received), func.sum(Manifest.expected))
        .where(Manifest.session_id.in_(sessions))
        .group_by(Manifest.session_id)
    ).all()
    return {sid: min(1.0, got / want) if want else 1.0 for sid, got, want in rows}


def _plate_view(node: Node, now: datetime) -> PlateView | None:
    if not node.plate:
        return None
    try:
        info = PlateInfo.model_validate(node.plate)
    except ValueError:
        return None
    reported = as_utc(node.status_at) if node.status_at else now
    taken = datetime.fromtimestamp(info.taken_at, UTC)
    return PlateView(
        taken_at=taken,
        age_s=max(0.0, (reported - taken).total_seconds() + (now - reported).total_seconds()),
        width=info.width,
        height=info.height,
        by_operator=info.by_operator,
        warning=PERSON_WARNING if info.person else None,
    )


def list_nodes(db: Db, booth: str, has_preview: set[str]) -> list[NodeView]:
    now = utcnow()
    views = []
    for node in db.scalars(select(Node).where(Node.booth_id == booth).order_by(Node.id)):
        seen = as_utc(node.seen_at) if node.seen_at else None
        fresh = seen is not None and (now - seen).total_seconds() < NODE_OFFLINE_AFTER_S
        views.append(
            NodeView(
                id=node.id,
                state=node.state,
                online=fresh and node.state != "offline",
                session_id=node.session_id,
                backend=node.backend,
                stats=node.stats or {},
                seen_at=node.seen_at,
                has_preview=node.id in has_preview,
                plate=_plate_view(node, now),
            )
        )
    return views
