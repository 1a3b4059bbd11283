"""The one delivery path: record the link and its email, commit, then send.

::

    record()   in the caller's transaction: a fresh link token (its digest on the
               rendition), the email that carries it as a ``pending`` mail row under its
               delivery key, the session ``mail_pending``. Idempotent on the key: recording
               again (a job re-run after a crash) returns the row already there and
               leaves its token alone.
    attempt()  after the commit: lease the row, hand the email to the mailer once, write
               the outcome. Sent: the session is ``delivered`` (``delivered_at``
               stamped). Refused for good, or out of attempts: ``mail_failed`` with the
               reason. Otherwise ``pending`` again, next try after an exponential backoff,
               the reason shown on the session.
    flush()    every due row: pending and due, or leased by a process that died.

The worker, the operator's approval and the operator's re-send all call record() and
then attempt() (or leave it to a flusher). The token and the email carrying it commit
together, so a crash anywhere leaves a row that the next flush sends with a link that
works: never a dead link, never a lost email. A row holds its email (and so the link)
only until it is sent, refused or superseded by a newer link. A process that dies
after the server's "250 OK" but before writing "sent" lets its lease expire and the
email goes again with the same Message-ID, which lets mail systems drop the duplicate.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.engine import transaction
from cloud.db.lifecycle import transition
from cloud.db.models import Mail, MailState, Rendition, Session, utcnow
from cloud.db.states import SessionState, TransitionError
from cloud.delivery.errors import DeliveryConflictError, MailError, MailRefusedError
from cloud.delivery.handoff import LinkPolicy, Visitor, link_email
from cloud.delivery.mailer import Mailer
from cloud.delivery.message import compose, mail_key
from cloud.delivery.tokens import issue_token
from cloud.settings import DeliverySettings

logger = logging.getLogger(__name__)

# How long one attempt may hold a row: above the SMTP timeouts of connect + send.
SEND_LEASE_S: Final = 120.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how far apart a refused email is tried again before it fails."""

    attempts: int = 8
    backoff_s: float = 10.0
    max_backoff_s: float = 600.0

    def delay_s(self, attempt: int) -> float:
        """Wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s))


def retry_policy(settings: DeliverySettings) -> RetryPolicy:
    return RetryPolicy(settings.mail_attempts, settings.mail_backoff_s, settings.mail_max_backoff_s)


@dataclass(frozen=True)
class Recorded:
    mail_id: int
    key: str
    state: MailState


@dataclass(frozen=True)
class FlushReport:
    sent: int = 0
    pending: int = 0
    failed: int = 0


def record(
    db: Db,
    session_id: str,
    kind: str,
    policy: LinkPolicy,
    sender: str,
    *,
    now: datetime | None = None,
) -> Recorded:
    """Record a fresh link and its email for the session (see the module doc).

    Raises :class:`DeliveryConflictError` when the session cannot take a link now: no
    rendition or address, a state that does not deliver, or an email to it in flight.
    """
    key = mail_key(session_id, kind)
    existing = db.scalar(select(Mail).where(Mail.key == key))
    if existing is not None:
        return Recorded(existing.id, key, existing.state)
    now = now or utcnow()
    session, rendition = _deliverable(db, session_id, now)
    superseded = db.execute(
        update(Mail)
        .where(Mail.session_id == session_id, Mail.state == MailState.PENDING)
        .values(state=MailState.SUPERSEDED, message=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    token = issue_token(policy.ttl, nbytes=policy.token_bytes, now=now)
    rendition.token_digest, rendition.expires_at = token.digest, token.expires_at
    assert session.email is not None
    email = link_email(Visitor(session_id, session.email), rendition.dance, policy, token, kind)
    mail = Mail(
        session_id=session_id,
        key=key,
        kind=kind,
        state=MailState.PENDING,
        message=compose(email, sender).as_bytes(),
        next_attempt_at=now,
    )
    db.add(mail)
    try:
        transition(db, session_id, SessionState.MAIL_PENDING)
    except TransitionError as exc:
        raise DeliveryConflictError(str(exc)) from None
    db.flush()
    logger.info(
        "session %s: link recorded, email %s pending%s",
        session_id,
        key,
        f" ({superseded.rowcount} older one superseded)" if superseded.rowcount else "",  # type: ignore[attr-defined]
    )
    return Recorded(mail.id, key, MailState.PENDING)


def _deliverable(db: Db, session_id: str, now: datetime) -> tuple[Session, Rendition]:
    session = db.get(Session, session_id, with_for_update=True)
    rendition = db.get(Rendition, session_id)
    if session is None or session.state is SessionState.DELETED:
        raise DeliveryConflictError(f"session {session_id} is gone: nothing to send")
    if not session.email:
        raise DeliveryConflictError(f"session {session_id} has no email address to send to")
    if rendition is None or session.rendition_deleted_at is not None:
        raise DeliveryConflictError(f"session {session_id} has no video to send a link to")
    in_flight = db.scalar(
        select(Mail.id).where(
            Mail.session_id == session_id,
            Mail.state == MailState.SENDING,
            Mail.lease_expires_at > now,
        )
    )
    if in_flight is not None:
        raise DeliveryConflictError(
            f"an email to session {session_id} is being sent right now; try again in a minute"
        )
    return session, rendition


def _due(now: datetime) -> ColumnElement[bool]:
    waiting = and_(Mail.state == MailState.PENDING, Mail.next_attempt_at <= now)
    abandoned = and_(Mail.state == MailState.SENDING, Mail.lease_expires_at < now)
    return or_(waiting, abandoned)


def attempt(
    factory: sessionmaker[Db], mailer: Mailer, mail_id: int, retry: RetryPolicy
) -> MailState | None:
    """Try to send one due mail row once; its new state, or None if it was not due."""
    now = utcnow()
    with transaction(factory) as db:
        claimed = db.execute(
            update(Mail)
            .where(Mail.id == mail_id, _due(now))
            .values(
                state=MailState.SENDING,
                attempts=Mail.attempts + 1,
                lease_expires_at=now + timedelta(seconds=SEND_LEASE_S),
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return None
        mail = db.get(Mail, mail_id, populate_existing=True)
        assert mail is not None and mail.message is not None
        key, message, number = mail.key, mail.message, mail.attempts
    refused, reason = False, ""
    try:
        mailer.send(key, message)
    except MailRefusedError as exc:
        refused, reason = True, str(exc)
    except MailError as exc:
        reason = str(exc)
    except Exception as exc:  # a bug must not leave the row leased: retry it later
        logger.exception("email %s: the mailer raised", key)
        reason = f"{type(exc).__name__}: {exc}"
    with transaction(factory) as db:
        return _settle(db, mail_id, number, reason, refused, retry)


def _settle(
    db: Db, mail_id: int, number: int, reason: str, refused: bool, retry: RetryPolicy
) -> MailState | None:
    mail = db.get(Mail, mail_id, with_for_update=True)
    if mail is None or mail.state is not MailState.SENDING or mail.attempts != number:
        return None  # the visitor was deleted meanwhile, or another attempt took over
    now, sid = utcnow(), mail.session_id
    mail.lease_expires_at, mail.updated_at = None, now
    if not reason:
        mail.state, mail.sent_at, mail.message, mail.error = MailState.SENT, now, None, None
        if transition(db, sid, SessionState.DELIVERED, strict=False):
            _session(db, sid).error = None
        rendition = db.get(Rendition, sid)
        if rendition is not None:
            rendition.emailed_at = now
        logger.info("email %s sent (attempt %d)", mail.key, number)
    elif refused or number >= retry.attempts:
        mail.state, mail.message, mail.error = MailState.FAILED, None, reason
        why = f"email failed after {number} attempt(s): {reason}"
        transition(db, sid, SessionState.MAIL_FAILED, error=why, strict=False)
        logger.error("email %s failed for good: %s", mail.key, reason)
    else:
        wait = retry.delay_s(number)
        mail.state, mail.error = MailState.PENDING, reason
        mail.next_attempt_at = now + timedelta(seconds=wait)
        session = _session(db, sid)
        if session.state is SessionState.MAIL_PENDING:
            session.error = (
                f"email attempt {number}/{retry.attempts} failed: {reason}; "
                f"next try in {wait:.0f} s"
            )
            session.updated_at = now
        logger.warning(
            "email %s attempt %d failed, retry in %.0f s: %s", mail.key, number, wait, reason
        )
    return mail.state


def _session(db: Db, session_id: str) -> Session:
    row = db.get(Session, session_id, populate_existing=True)
    assert row is not None  # mail rows go with their session (ON DELETE CASCADE)
    return row


def flush(
    factory: sessionmaker[Db], mailer: Mailer, retry: RetryPolicy, *, limit: int = 100
) -> FlushReport:
    """Attempt every due mail row once (oldest due first)."""
    with factory() as db:
        due = db.scalars(
            select(Mail.id)
            .where(_due(utcnow()))
            .order_by(Mail.next_attempt_at, Mail.id)
            .limit(limit)
        ).all()
    counts: Counter[MailState] = Counter()
    for mail_id in due:
        state = attempt(factory, mailer, mail_id, retry)
        if state is not None:
            counts[state] += 1
    return FlushReport(counts[MailState.SENT], counts[MailState.PENDING], counts[MailState.FAILED])


class MailFlusher:
    """Flushes the outbox in a thread every ``every_s`` seconds, and at once when woken."""

    def __init__(
        self, factory: sessionmaker[Db], mailer: Mailer, retry: RetryPolicy, every_s: float
    ) -> None:
        self.factory, self.mailer, self.retry, self.every_s = factory, mailer, retry, every_s
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mail-flusher", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def flush_once(self) -> FlushReport | None:
        try:
            return flush(self.factory, self.mailer, self.retry)
        except Exception:  # the database may be restarting: the next round retries
            logger.exception("mail flush failed")
            return None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            self.flush_once()
            self._wake.wait(self.every_s)
