"""The operator's decisions on a rendition: review a held one, re-send a finished one.

The operator watches a rendition the quality gate held (``needs_review``), then
approves it, sends the visitor back to ``retake``, or rejects it (``failed`` with the
reason). Approval and re-send take the one delivery path
(:mod:`cloud.delivery.outbox`): the link token and the email that carries it are
committed together (``mail_pending``) before anything is sent, so no crash can mail a
link the database does not know; the session is ``delivered`` once the server took
the email.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.api import visits
from cloud.api.errors import ConflictError, NotFoundError
from cloud.api.schemas import RenditionChecks
from cloud.db.engine import transaction
from cloud.db.models import Mail, Rendition, Session
from cloud.db.states import SessionState
from cloud.delivery.errors import DeliveryConflictError
from cloud.delivery.handoff import link_policy
from cloud.delivery.mailer import Mailer
from cloud.delivery.outbox import Recorded, attempt, record, retry_policy
from cloud.settings import CloudSettings
from cloud.storage import ObjectNotFoundError, Storage

logger = logging.getLogger(__name__)


RESENDABLE = (SessionState.DELIVERED, SessionState.MAIL_PENDING, SessionState.MAIL_FAILED)


@dataclass(frozen=True)
class Approved:
    """A link recorded for the visitor: the session's state and its email's."""

    session_id: str
    state: SessionState
    mail: str  # the email's state: pending, sending, sent, failed
    detail: str = ""  # the last refusal, if any


def waiting_for_review(db: Db, session_id: str) -> Session:
    """A session the gate held (ConflictError otherwise); it may have no rendition when
    the capture had no dancer to learn."""
    row = visits.get_session(db, session_id)
    if row.state is not SessionState.NEEDS_REVIEW:
        raise ConflictError(
            f"session {session_id} is {row.state}, not needs_review: nothing to review"
        )
    return row


def held_rendition(db: Db, session_id: str) -> Rendition:
    """The rendition of a session that is waiting for review (ConflictError otherwise)."""
    waiting_for_review(db, session_id)
    rendition = db.get(Rendition, session_id)
    if rendition is None:
        raise ConflictError(f"session {session_id} has no rendition: retry its job to render")
    return rendition


def video_key(db: Db, session_id: str) -> str:
    """The stored video of any live session's rendition (for the operator's preview)."""
    visits.get_session(db, session_id)
    rendition = db.get(Rendition, session_id)
    if rendition is None:
        raise NotFoundError(f"session {session_id} has no rendition")
    return rendition.video_key


def approve(
    factory: sessionmaker[Db],
    storage: Storage,
    settings: CloudSettings,
    mailer: Mailer,
    session_id: str,
) -> Approved:
    """Deliver a held rendition through the one delivery path: the link and its email
    recorded (``mail_pending``), committed, then one send attempt."""
    with transaction(factory) as db:
        rendition = held_rendition(db, session_id)
        if not storage.exists(rendition.video_key):
            raise ConflictError(
                f"the video {rendition.video_key} is missing: retry the session's job to "
                "render it again"
            )
        # One email per approval: its own kind, so its delivery key is fresh.
        recorded = _record(db, settings, session_id, f"approved-{secrets.token_hex(6)}")
    state = attempt(factory, mailer, recorded.mail_id, retry_policy(settings.delivery))
    logger.info("session %s approved by the operator; email %s", session_id, state)
    return _outcome(factory, session_id, recorded.mail_id)


def resend(factory: sessionmaker[Db], settings: CloudSettings, session_id: str) -> Approved:
    """Record a fresh link for a finished video and queue its email (the old link stops
    working); a flusher sends it. One short transaction: it answers at once."""
    with transaction(factory) as db:
        row = visits.get_session(db, session_id)
        if row.state not in RESENDABLE:
            raise ConflictError(
                f"session {session_id} is {row.state}: only a delivered video (or one whose "
                "email failed) can be re-sent"
            )
        if row.rendition_deleted_at is not None:
            raise ConflictError(
                f"the video was removed on {row.rendition_deleted_at:%Y-%m-%d} (its link "
                "expired): nothing to re-send"
            )
        recorded = _record(db, settings, session_id, f"resend-{secrets.token_hex(6)}")
    return _outcome(factory, session_id, recorded.mail_id)


def _record(db: Db, settings: CloudSettings, session_id: str, kind: str) -> Recorded:
    try:
        return record(db, session_id, kind, link_policy(settings), settings.mail.sender)
    except DeliveryConflictError as exc:
        raise ConflictError(str(exc)) from None


def _outcome(factory: sessionmaker[Db], session_id: str, mail_id: int) -> Approved:
    with factory() as db:
        session, mail = db.get(Session, session_id), db.get(Mail, mail_id)
        assert session is not None and mail is not None
        return Approved(session_id, session.state, mail.state.value, mail.error or "")


def reject(db: Db, session_id: str, reason: str, *, retake: bool) -> SessionState:
    """Send the visitor back to the capture line (``retake``) or fail the session (with
    or without a rendition: a capture without a dancer is held before rendering)."""
    session = waiting_for_review(db, session_id)
    if retake:
        visits.retake(db, session_id, f"retake after review: {reason}")
        session.error = f"retake after review: {reason}" if reason else None
    else:
        visits.move(db, session, SessionState.FAILED)
        session.error = f"rejected after review: {reason}"
    logger.info("session %s %s after review: %s", session_id, session.state, reason)
    return session.state


def checks(db: Db, storage: Storage, settings: CloudSettings, session_id: str) -> RenditionChecks:
    """The rendition's quality figures, limits and reasons (its report's per-part figures
    where the render step stored them)."""
    from cloud.jobs.pipeline import report_key, strip_key

    visits.get_session(db, session_id)
    row = db.get(Rendition, session_id)
    if row is None:
        raise NotFoundError(f"session {session_id} has no rendition")
    try:
        report = json.loads(storage.get(report_key(session_id)))
    except (ObjectNotFoundError, ValueError):
        report = {}
    found = report.get("checks") or {}
    pose, look = found.get("pose") or {}, found.get("appearance") or {}
    q = settings.render.quality
    limits = {
        "min_held_out_ssim": q.min_held_out_ssim,
        "max_flicker": q.max_flicker,
        "max_missing": q.max_missing,
        "max_pose_error": q.max_pose_error,
        "max_appearance": q.max_appearance,
        "max_appearance_drift": q.max_appearance_drift,
    }
    return RenditionChecks(
        reasons=[r for r in (row.review_reasons or "").split("; ") if r],
        figures={
            "held_out_ssim": row.held_out_ssim,
            "flicker": row.flicker,
            "dancer_missing": row.dancer_missing,
            "pose_error": row.pose_error,
            "appearance": row.appearance,
            "drift": row.appearance_drift,
        },
        limits=limits,
        pose_parts=pose.get("parts") or {},
        look_parts=look.get("parts") or {},
        drift=look.get("drift") or {},
        checked_frames=int(pose.get("frames") or 0),
        checks_error=report.get("checks_error"),
        strip=storage.exists(strip_key(session_id)),
    )


def strip_jpeg(db: Db, storage: Storage, session_id: str) -> bytes:
    """The strip of the rendition's worst checked frames (NotFoundError if none)."""
    from cloud.jobs.pipeline import strip_key

    visits.get_session(db, session_id)
    try:
        return storage.get(strip_key(session_id))
    except ObjectNotFoundError:
        raise NotFoundError(f"session {session_id} has no checked frames") from None
