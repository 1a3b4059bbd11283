"""Mailers against a real SMTP server (aiosmtpd), and the outbox folder."""

from __future__ import annotations

import socket
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from cloud.delivery.mailer import OutboxMailer, SmtpMailer, build_mailer
from cloud.delivery.message import RenditionEmail
from cloud.settings import OutboxMail, SmtpMail
from tests.cloud.delivery.smtp_server import PASSWORD, USER, run_smtp
from tests.services import free_port

pytestmark = pytest.mark.services

EMAIL = RenditionEmail(
    session_id="s-1",
    to="visitor@example.org",
    link="http://127.0.0.1:8000/r/tok_0123456789abcdef0123456789",
    expires_at=datetime(2026, 12, 1, tzinfo=UTC),
    dance="salsa",
    delete_link="http://127.0.0.1:8000/r/tok_0123456789abcdef0123456789#delete",
)


def _settings(tmp_path: Path, port: int, **kw: Any) -> SmtpMail:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": "booth@example.org",
        "timeout_s": 2.0,
        "attempts": 3,
        "backoff_s": 0.5,
        "queue_directory": tmp_path / "q",
    }
    base.update(kw)
    return SmtpMail(**base)


class _Sleeps(list[float]):
    def __call__(self, s: float) -> None:
        self.append(s)


def test_outbox_writes_one_eml_per_session_and_kind(tmp_path: Path) -> None:
    mailer = build_mailer(OutboxMail(directory=tmp_path / "out"))
    assert isinstance(mailer, OutboxMailer)
    first = mailer.send(EMAIL)
    assert first.status == "sent"
    assert mailer.send(EMAIL).status == "already_sent"
    assert mailer.send(replace(EMAIL, kind="rendition-resend-1")).status == "sent"
    files = sorted((tmp_path / "out").glob("*.eml"))
    assert len(files) == 2
    msg = message_from_bytes(Path(first.detail).read_bytes(), policy=policy.default)
    assert msg["To"] == "visitor@example.org" and EMAIL.link in msg.as_string()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("security", ["none", "starttls", "ssl"])
def test_smtp_delivers_once_with_tls_and_login(tmp_path: Path, security: str) -> None:
    with run_smtp(tmp_path, security=security, auth=True) as server:
        settings = _settings(
            tmp_path,
            server.port,
            security=security,
            username=USER,
            password=PASSWORD,
            ca_file=server.cert,
        )
        mailer = SmtpMailer(settings)
        assert mailer.send(EMAIL).status == "sent"
        assert mailer.send(EMAIL).status == "already_sent"
        assert mailer.flush().sent == 0
    assert len(server.inbox.messages) == 1
    msg = server.inbox.messages[0]
    assert msg["Message-ID"] == f"<{EMAIL.key}@dancebooth>"
    assert server.inbox.envelopes == [("booth@example.org", ["visitor@example.org"])]
    assert mailer.queued() == []


def test_wrong_password_keeps_the_email_queued(tmp_path: Path) -> None:
    with run_smtp(tmp_path, security="starttls", auth=True) as server:
        s = _settings(
            tmp_path,
            server.port,
            security="starttls",
            username=USER,
            password="wrong",
            ca_file=server.cert,
        )
        sleeps = _Sleeps()
        result = SmtpMailer(s, sleep=sleeps).send(EMAIL)
        assert result.status == "queued" and "login refused" in result.detail
        assert sleeps == []  # no point retrying bad credentials
        fixed = SmtpMailer(s.model_copy(update={"password": SecretStr(PASSWORD)}))
        assert fixed.flush().sent == 1
    assert len(server.inbox.messages) == 1


def test_untrusted_certificate_is_not_sent_to(tmp_path: Path) -> None:
    with run_smtp(tmp_path, security="starttls") as server:
        result = SmtpMailer(_settings(tmp_path, server.port, security="starttls")).send(EMAIL)
    assert result.status == "queued" and "mail.ca_file" in result.detail
    assert server.inbox.messages == []


def test_transient_refusal_is_retried_with_backoff_and_sent_once(tmp_path: Path) -> None:
    with run_smtp(tmp_path) as server:
        server.inbox.refuse = 2
        sleeps = _Sleeps()
        result = SmtpMailer(_settings(tmp_path, server.port), sleep=sleeps).send(EMAIL)
    assert result.status == "sent"
    assert sleeps == [0.5, 1.0]
    assert len(server.inbox.messages) == 1


def test_a_failing_server_leaves_the_email_queued_then_flush_delivers_it_once(
    tmp_path: Path,
) -> None:
    with run_smtp(tmp_path) as server:
        server.inbox.refuse = 10
        mailer = SmtpMailer(_settings(tmp_path, server.port), sleep=_Sleeps())
        result = mailer.send(EMAIL)
        assert result.status == "queued" and "451" in result.detail
        assert mailer.queued() == [EMAIL.key]
        assert mailer.send(EMAIL).status == "queued"  # still not sent, still one copy
        assert len(list(mailer.pending.glob("*.eml"))) == 1
        server.inbox.refuse = 0
        report = mailer.flush()
        assert (report.sent, report.queued, report.failed) == (1, 0, 0)
        assert mailer.flush().sent == 0
        assert mailer.send(EMAIL).status == "already_sent"
    assert len(server.inbox.messages) == 1


def test_no_server_at_all_then_one_appears(tmp_path: Path) -> None:
    port = free_port()
    mailer = SmtpMailer(_settings(tmp_path, port, attempts=2), sleep=_Sleeps())
    result = mailer.send(EMAIL)
    assert result.status == "queued" and "failed 2 times" in result.detail
    with run_smtp(tmp_path, port=port) as server:
        assert mailer.flush().sent == 1
    assert len(server.inbox.messages) == 1


def test_a_server_that_never_answers_times_out_and_keeps_the_email(tmp_path: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)  # accepts connections in the kernel, never speaks
        port = silent.getsockname()[1]
        mailer = SmtpMailer(_settings(tmp_path, port, attempts=1, timeout_s=0.3))
        result = mailer.send(EMAIL)
    assert result.status == "queued" and "timed out" in result.detail
    assert mailer.queued() == [EMAIL.key]


def test_a_permanently_refused_recipient_moves_to_failed_with_the_reason(tmp_path: Path) -> None:
    with run_smtp(tmp_path) as server:
        mailer = SmtpMailer(_settings(tmp_path, server.port), sleep=_Sleeps())
        result = mailer.send(replace(EMAIL, to="nobody@example.org"))
        assert result.status == "failed" and "550" in result.detail
        assert mailer.queued() == []
        reason = (mailer.failed / f"{EMAIL.key}.reason").read_text()
        assert "No such user" in reason
        assert (mailer.failed / f"{EMAIL.key}.eml").exists()
    assert server.inbox.messages == []
