"""The one delivery path on SQLite and PostgreSQL, against the outbox folder and a real SMTP
server (aiosmtpd): record the link and its email, then send; the states tell the truth."""

from __future__ import annotations

import logging
import re
import time
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_session
from cloud.db.models import Mail, MailState, Rendition, Session, utcnow
from cloud.db.states import SessionState
from cloud.delivery.errors import DeliveryConflictError, MailError
from cloud.delivery.handoff import LinkPolicy
from cloud.delivery.mailer import OutboxMailer, SmtpMailer
from cloud.delivery.outbox import MailFlusher, RetryPolicy, attempt, flush, record
from cloud.delivery.tokens import token_digest
from cloud.settings import SmtpMail
from tests.cloud.delivery.smtp_server import run_smtp

SID = "svisit1"
ADDRESS = "ana@example.com"
SENDER = "booth@example.org"
POLICY = LinkPolicy("https://booth.example", timedelta(days=30))
NOW = RetryPolicy(attempts=3, backoff_s=0.0)  # every retry due at once
TOKEN = re.compile(r"https://booth\.example/r/([A-Za-z0-9_-]+)")


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Db]:
    factory = session_factory(engine)
    with transaction(factory) as db:
        row = ensure_session(db, "booth1", SID, SessionState.RENDERING)
        row.email, row.consent = ADDRESS, True
        db.add(Rendition(session_id=SID, video_key=f"sessions/{SID}/renditions/x.mp4"))
    return factory


def _record(factory: sessionmaker[Db], kind: str = "rendition-job-1") -> int:
    with transaction(factory) as db:
        return record(db, SID, kind, POLICY, SENDER).mail_id


def _session(factory: sessionmaker[Db]) -> Session:
    with factory() as db:
        row = db.get(Session, SID)
        assert row is not None
        return row


def _mail(factory: sessionmaker[Db], mail_id: int) -> Mail:
    with factory() as db:
        row = db.get(Mail, mail_id)
        assert row is not None
        return row


def _opens(factory: sessionmaker[Db], body: bytes) -> bool:
    """Whether the link in an email opens the session's rendition (its token's digest)."""
    msg = message_from_bytes(body, policy=policy.default)
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    match = TOKEN.search(text)
    assert match, text
    with factory() as db:
        rendition = db.get(Rendition, SID)
        return rendition is not None and rendition.token_digest == token_digest(match.group(1))


def _smtp(port: int) -> SmtpMailer:
    return SmtpMailer(SmtpMail(host="127.0.0.1", port=port, security="none", sender=SENDER))


def test_delivered_only_once_the_email_is_out(factory: sessionmaker[Db], tmp_path: Path) -> None:
    mail_id = _record(factory)
    session = _session(factory)
    assert session.state is SessionState.MAIL_PENDING and session.delivered_at is None
    outbox = OutboxMailer(tmp_path / "outbox")
    assert attempt(factory, outbox, mail_id, NOW) is MailState.SENT
    session = _session(factory)
    assert session.state is SessionState.DELIVERED and session.delivered_at is not None
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    assert _opens(factory, eml.read_bytes())
    sent = _mail(factory, mail_id)
    assert sent.message is None and sent.sent_at is not None  # the link is kept no longer
    assert attempt(factory, outbox, mail_id, NOW) is None  # sent once


def test_a_crash_between_record_and_send_never_mails_a_dead_link(
    factory: sessionmaker[Db], tmp_path: Path
) -> None:
    first = _record(factory)  # ... and the process dies before sending
    again = _record(factory)  # the job runs again on another worker
    assert again == first  # the same email, the same token: nothing minted twice
    report = flush(factory, OutboxMailer(tmp_path / "outbox"), NOW)
    assert report.sent == 1
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    assert _opens(factory, eml.read_bytes())


def test_a_refused_email_is_pending_with_the_reason_then_retried(
    factory: sessionmaker[Db], tmp_path: Path
) -> None:
    with run_smtp(tmp_path) as server:
        server.inbox.refuse = 1
        mailer = _smtp(server.port)
        mail_id = _record(factory)
        retry = RetryPolicy(attempts=5, backoff_s=60.0)
        assert attempt(factory, mailer, mail_id, retry) is MailState.PENDING
        session, mail = _session(factory), _mail(factory, mail_id)
        assert session.state is SessionState.MAIL_PENDING  # not "delivered": nothing arrived
        assert session.error and "451" in session.error and "next try in 60 s" in session.error
        assert mail.error and "451" in mail.error and mail.attempts == 1
        assert flush(factory, mailer, retry).sent == 0  # not due for a minute
        with transaction(factory) as db:  # a minute later
            db.execute(update(Mail).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        assert flush(factory, mailer, retry).sent == 1
    assert len(server.inbox.messages) == 1
    session = _session(factory)
    assert session.state is SessionState.DELIVERED and session.error is None
    assert _opens(factory, server.inbox.messages[0].as_bytes())


def test_out_of_attempts_the_session_shows_mail_failed(
    factory: sessionmaker[Db], tmp_path: Path
) -> None:
    with run_smtp(tmp_path) as server:
        server.inbox.refuse = 10
        mailer = _smtp(server.port)
        mail_id = _record(factory)
        for _ in range(3):
            flush(factory, mailer, NOW)
    mail, session = _mail(factory, mail_id), _session(factory)
    assert mail.state is MailState.FAILED and mail.attempts == 3 and mail.message is None
    assert session.state is SessionState.MAIL_FAILED
    assert session.error and "after 3 attempt(s)" in session.error and "451" in session.error


def test_a_permanent_refusal_fails_at_once(factory: sessionmaker[Db], tmp_path: Path) -> None:
    with transaction(factory) as db:
        row = db.get(Session, SID)
        assert row is not None
        row.email = "nobody@example.com"  # the test server answers 550
    with run_smtp(tmp_path) as server:
        mail_id = _record(factory)
        assert attempt(factory, _smtp(server.port), mail_id, NOW) is MailState.FAILED
    session = _session(factory)
    assert session.state is SessionState.MAIL_FAILED and "550" in (session.error or "")
    assert "nobody@" not in (session.error or "")


def test_a_new_link_supersedes_an_unsent_one(factory: sessionmaker[Db], tmp_path: Path) -> None:
    old = _record(factory, "rendition-job-1")
    new = _record(factory, "resend-1")
    assert _mail(factory, old).state is MailState.SUPERSEDED
    assert _mail(factory, old).message is None
    assert flush(factory, OutboxMailer(tmp_path / "outbox"), NOW).sent == 1
    (eml,) = (tmp_path / "outbox").glob("*.eml")  # only the email whose link works
    assert _opens(factory, eml.read_bytes()) and _mail(factory, new).state is MailState.SENT


def test_no_new_link_while_an_email_is_being_sent(factory: sessionmaker[Db]) -> None:
    mail_id = _record(factory)

    class Interrupting:
        """Records a re-send while its own attempt is on the wire."""

        def send(self, key: str, message: bytes) -> None:
            with pytest.raises(DeliveryConflictError, match="being sent right now"):
                _record(factory, "resend-1")
            raise MailError("421 closing")

        def forget(self, session_id: str) -> int:
            return 0

    assert attempt(factory, Interrupting(), mail_id, NOW) is MailState.PENDING


def test_no_address_or_token_in_info_logs(
    factory: sessionmaker[Db], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with run_smtp(tmp_path) as server:
        server.inbox.refuse = 1
        mailer = _smtp(server.port)
        _record(factory)
        flush(factory, mailer, NOW)
        flush(factory, mailer, NOW)
    outbox = OutboxMailer(tmp_path / "outbox")
    _record(factory, "resend-1")
    flush(factory, outbox, NOW)
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    token = TOKEN.search(eml.read_text())
    assert token and len(server.inbox.messages) == 1
    ours = [r for r in caplog.records if r.name.startswith("cloud.")]  # not the test server's
    logged = "\n".join(r.getMessage() for r in ours)
    assert "email" in logged and ADDRESS not in logged and token.group(1) not in logged


def test_the_flusher_sends_when_woken(factory: sessionmaker[Db], tmp_path: Path) -> None:
    flusher = MailFlusher(factory, OutboxMailer(tmp_path / "outbox"), NOW, every_s=3600)
    flusher.start()
    try:
        _record(factory)
        flusher.wake()
        deadline = utcnow() + timedelta(seconds=10)
        while _session(factory).state is not SessionState.DELIVERED:
            assert utcnow() < deadline, "the woken flusher did not send"
            time.sleep(0.05)
    finally:
        flusher.stop()


def test_forget_removes_the_visitors_emails_only(tmp_path: Path, factory: sessionmaker[Db]) -> None:
    outbox = OutboxMailer(tmp_path / "outbox")
    _record(factory)
    flush(factory, outbox, NOW)
    (tmp_path / "outbox" / "other.eml").write_bytes(b"X-Dancebooth-Session: sother\n\nhi\n")
    assert outbox.forget(SID) == 1
    assert [p.name for p in (tmp_path / "outbox").glob("*.eml")] == ["other.eml"]
