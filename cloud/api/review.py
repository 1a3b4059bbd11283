"""The operator's review of a rendition the quality gate held (``needs_review``).

The operator watches the stored video, then approves it (a fresh link token, the
session ``delivered``, the email sent now), sends the visitor back to ``retake``, or
rejects it (``failed`` with the reason). Approval commits the token and the state
*before* the email goes out: an email that fails or only gets queued still carries a
link that works, and the operator can re-send it; the opposite order could mail a
link the database never learned about.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.api import visits
from cloud.api.errors import ConflictError, NotFoundError
from cloud.db.engine import transaction
from cloud.db.models import Rendition, utcnow
from cloud.db.states import SessionState
from cloud.delivery.errors import MailError
from cloud.delivery.handoff import LinkPolicy, Visitor, link_email
from cloud.delivery.mailer import Mailer
from cloud.delivery.message import RenditionEmail
from cloud.delivery.tokens import issue_token
from cloud.settings import CloudSettings
from cloud.storage import Storage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Approved:
    session_id: str
    mail: str  # the mailer's status: sent, already_sent, queued, failed
    detail: str = ""


def link_policy(settings: CloudSettings) -> LinkPolicy:
    return LinkPolicy(
        settings.api.public_url,
        timedelta(days=settings.delivery.link_ttl_days),
        settings.delivery.token_bytes,
    )


def held_rendition(db: Db, session_id: str) -> Rendition:
    """The rendition of a session that is waiting for review (ConflictError otherwise)."""
    row = visits.get_session(db, session_id)
    if row.state is not SessionState.NEEDS_REVIEW:
        raise ConflictError(
            f"session {session_id} is {row.state}, not needs_review: nothing to review"
        )
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
    """Deliver a held rendition: token and ``delivered`` committed, then the email."""
    email = _commit_approval(factory, storage, settings, session_id)
    try:
        result = mailer.send(email)
    except MailError as exc:
        logger.warning("session %s approved but the email did not go: %s", session_id, exc)
        return Approved(session_id, "queued", f"{exc}; re-send it once mail works")
    if result.status in ("sent", "already_sent"):
        with transaction(factory) as db:
            rendition = db.get(Rendition, session_id)
            if rendition is not None:
                rendition.emailed_at = utcnow()
    logger.info("session %s approved by the operator; email %s", session_id, result.status)
    return Approved(session_id, result.status, result.detail)


def _commit_approval(
    factory: sessionmaker[Db], storage: Storage, settings: CloudSettings, session_id: str
) -> RenditionEmail:
    policy = link_policy(settings)
    with transaction(factory) as db:
        rendition = held_rendition(db, session_id)
        session = visits.get_session(db, session_id)
        if not session.email:
            raise ConflictError(f"session {session_id} has no email address to send the link to")
        if not storage.exists(rendition.video_key):
            raise ConflictError(
                f"the video {rendition.video_key} is missing: retry the session's job to "
                "render it again"
            )
        token = issue_token(policy.ttl, nbytes=policy.token_bytes)
        rendition.token_digest, rendition.expires_at = token.digest, token.expires_at
        visits.move(db, session, SessionState.DELIVERED)  # raises if someone else decided
        session.error = None
        visitor = Visitor(session_id, session.email)
        # One email per approval: its own kind, so the mailers' send-once key is fresh.
        kind = f"rendition-approved-{token.digest[:12]}"
        return link_email(visitor, rendition.dance, policy, token, kind=kind)


def reject(db: Db, session_id: str, reason: str, *, retake: bool) -> SessionState:
    """Send the visitor back to the capture line (``retake``) or fail the session."""
    held_rendition(db, session_id)
    session = visits.get_session(db, session_id)
    if retake:
        visits.retake(db, session_id, f"retake after review: {reason}")
        session.error = f"retake after review: {reason}" if reason else None
    else:
        visits.move(db, session, SessionState.FAILED)
        session.error = f"rejected after review: {reason}"
    logger.info("session %s %s after review: %s", session_id, session.state, reason)
    return session.state
