"""Mailers against a real SMTP server (aiosmtpd), and the outbox folder: one attempt each,
its outcome told by what it raises (the outbox in the database does the retrying)."""

from __future__ import annotations

import socket
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from cloud.delivery.errors import MailError, MailRefusedError
from cloud.delivery.mailer import OutboxMailer, SmtpMailer, build_mailer
from cloud.delivery.message import RenditionEmail, compose
from cloud.settings import OutboxMail, SmtpMail
from tests.cloud.delivery.smtp_server import PASSWORD, USER, run_smtp
from tests.services import free_port

pytestmark = pytest.mark.services

SENDER = "booth@example.org"
EMAIL = RenditionEmail(
    session_id="s-1",
    to="visitor@example.org",
    link="http://127.0.0.1:8000/r/tok_0123456789abcdef0123456789",
    expires_at=datetime(2026, 12, 1, tzinfo=UTC),
    dance="salsa",
    delete_link="http://127.0.0.1:8000/r/tok_0123456789abcdef0123456789#delete",
)


def _bytes(email: RenditionEmail = EMAIL) -> bytes:
    return compose(email, SENDER).as_bytes()


def _settings(port: int, **kw: Any) -> SmtpMail:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": SENDER,
        "timeout_s": 2.0,
    }
    base.update(kw)
    return SmtpMail(**base)


def test_outbox_writes_one_eml_per_key_and_forgets_a_session(tmp_path: Path) -> None:
    mailer = build_mailer(OutboxMail(directory=tmp_path / "out"))
    assert isinstance(mailer, OutboxMailer)
    mailer.send(EMAIL.key, _bytes())
    mailer.send(EMAIL.key, _bytes())  # a repeated attempt writes nothing new
    other = replace(EMAIL, session_id="s-2")
    mailer.send(other.key, _bytes(other))
    files = sorted((tmp_path / "out").glob("*.eml"))
    assert len(files) == 2
    msg = message_from_bytes(
        (tmp_path / "out" / f"{EMAIL.key}.eml").read_bytes(), policy=policy.default
    )
    assert msg["To"] == "visitor@example.org" and EMAIL.link in msg.as_string()
    assert mailer.forget("s-1") == 1
    assert [p.stem for p in (tmp_path / "out").glob("*.eml")] == [other.key]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("security", ["none", "starttls", "ssl"])
def test_smtp_delivers_with_tls_and_login(tmp_path: Path, security: str) -> None:
    with run_smtp(tmp_path, security=security, auth=True) as server:
        settings = _settings(
            server.port, security=security, username=USER, password=PASSWORD, ca_file=server.cert
        )
        SmtpMailer(settings).send(EMAIL.key, _bytes())
    (msg,) = server.inbox.messages
    assert msg["Message-ID"] == f"<{EMAIL.key}@dancebooth>"
    assert server.inbox.envelopes == [(SENDER, ["visitor@example.org"])]


def test_wrong_password_says_what_to_check(tmp_path: Path) -> None:
    with run_smtp(tmp_path, security="starttls", auth=True) as server:
        s = _settings(
            server.port, security="starttls", username=USER, password="wrong", ca_file=server.cert
        )
        with pytest.raises(MailError, match=r"login refused.*mail\.username/password") as err:
            SmtpMailer(s).send(EMAIL.key, _bytes())
    assert not isinstance(err.value, MailRefusedError)  # fixable: tried again later
    assert server.inbox.messages == []


def test_untrusted_certificate_is_not_sent_to(tmp_path: Path) -> None:
    with (
        run_smtp(tmp_path, security="starttls") as server,
        pytest.raises(MailError, match=r"mail\.ca_file"),
    ):
        SmtpMailer(_settings(server.port, security="starttls")).send(EMAIL.key, _bytes())
    assert server.inbox.messages == []


def test_a_transient_refusal_is_a_retryable_error(tmp_path: Path) -> None:
    with run_smtp(tmp_path) as server:
        server.inbox.refuse = 1
        with pytest.raises(MailError, match="451") as err:
            SmtpMailer(_settings(server.port)).send(EMAIL.key, _bytes())
        assert not isinstance(err.value, MailRefusedError)
        SmtpMailer(_settings(server.port)).send(EMAIL.key, _bytes())
    assert len(server.inbox.messages) == 1


def test_a_permanently_refused_recipient_is_refused_for_good(tmp_path: Path) -> None:
    nobody = replace(EMAIL, to="nobody@example.org")
    with run_smtp(tmp_path) as server, pytest.raises(MailRefusedError, match="550") as err:
        SmtpMailer(_settings(server.port)).send(nobody.key, _bytes(nobody))
    assert "nobody@" not in str(err.value)  # errors reach logs and the dashboard
    assert server.inbox.messages == []


def test_no_server_at_all(tmp_path: Path) -> None:
    with pytest.raises(MailError, match="ConnectionRefusedError"):
        SmtpMailer(_settings(free_port())).send(EMAIL.key, _bytes())


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)  # accepts connections in the kernel, never speaks
        port = silent.getsockname()[1]
        with pytest.raises(MailError, match="timed out"):
            SmtpMailer(_settings(port, timeout_s=0.3)).send(EMAIL.key, _bytes())
