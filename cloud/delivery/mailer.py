"""Mailers: how one composed email leaves the booth (an outbox folder, or SMTP).

A :class:`Mailer` makes one attempt to hand one message over and tells how it went by
what it raises: nothing means the server (or folder) took it; :class:`MailRefusedError`
means refused for good (a 5xx reply); any other :class:`MailError` means "try again
later", with the reason. Queueing, retries with backoff and the send-once rule live in
the database (:mod:`cloud.delivery.outbox`), which every process shares, not in a
folder on one machine.

- :class:`OutboxMailer` writes each message as ``<key>.eml`` into a folder: the demo's
  "mail server", readable by any mail client.
- :class:`SmtpMailer` speaks SMTP (STARTTLS, implicit TLS or plain; login if
  configured; a timeout on every step).

``forget(session_id)`` removes every copy of a session's mail the mailer keeps (the
visitor's deletion request); SMTP keeps none.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import tempfile
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from pathlib import Path
from typing import Protocol

from cloud.delivery.errors import MailError, MailRefusedError
from cloud.delivery.message import SESSION_HEADER
from cloud.settings import MailSettings, OutboxMail, SmtpMail

logger = logging.getLogger(__name__)


class Mailer(Protocol):
    def send(self, key: str, message: bytes) -> None:
        """Hand ``message`` over once; raise :class:`MailError` (or its permanent
        subclass :class:`MailRefusedError`) if it was not taken."""
        ...

    def forget(self, session_id: str) -> int:
        """Delete every copy of the session's mail kept here; how many were deleted."""
        ...


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class OutboxMailer:
    """Writes ``<key>.eml`` files into ``directory`` (the embedded default)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def send(self, key: str, message: bytes) -> None:
        path = self.directory / f"{key}.eml"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if not path.exists():  # a repeated attempt after a crash: already written
                _atomic_write(path, message)
        except OSError as exc:
            raise MailError(f"cannot write {path}: {exc}") from None
        logger.info("email %s written to %s", key, path)

    def forget(self, session_id: str) -> int:
        removed = 0
        for path in self.directory.glob("*.eml") if self.directory.is_dir() else []:
            with open(path, "rb") as f:
                headers = BytesHeaderParser(policy=policy.default).parse(f)
            if headers.get(SESSION_HEADER) == session_id:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


class SmtpMailer:
    """One SMTP attempt per :meth:`send`; the outbox decides when to try again."""

    def __init__(self, settings: SmtpMail) -> None:
        self.settings = settings

    def send(self, key: str, message: bytes) -> None:
        msg = message_from_bytes(message, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        s = self.settings
        try:
            self._deliver(msg)
        except MailError:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"SMTP {s.host}:{s.port}: {type(exc).__name__}: {exc}") from None
        logger.info("email %s handed to %s:%d", key, s.host, s.port)

    def forget(self, session_id: str) -> int:
        return 0  # nothing is kept here: the outbox rows are the queue

    def _deliver(self, msg: EmailMessage) -> None:
        s = self.settings
        context = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
        recipients = [a for _, a in getaddresses(msg.get_all("To", []))]
        try:
            smtp = self._connect(context)
            try:
                if s.username is not None:
                    password = s.password.get_secret_value() if s.password else ""
                    smtp.login(s.username, password)
                # send_message writes CRLF line ends, as SMTP requires (raw bytes would not).
                smtp.send_message(msg, from_addr=s.sender, to_addrs=recipients)
            finally:
                _quit(smtp)  # after a "250 OK" nothing may turn into a retry
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(
                f"SMTP login refused ({exc.smtp_code}); check mail.username/password"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise MailError(f"SMTP server lacks a feature ({exc}); check mail.security") from None
        except ssl.SSLCertVerificationError as exc:
            raise MailError(f"SMTP certificate not trusted ({exc}); set mail.ca_file") from None
        except smtplib.SMTPRecipientsRefused as exc:
            # The replies only: the address itself stays out of errors and logs.
            replies = [(code, _text(reply)) for code, reply in exc.recipients.values()]
            said = "; ".join(f"{code} {text}" for code, text in replies)
            if all(code >= 500 for code, _ in replies):
                raise MailRefusedError(f"recipient refused: {said}") from None
            raise MailError(f"recipient deferred: {said}") from None
        except smtplib.SMTPResponseException as exc:
            reply = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            if exc.smtp_code >= 500:
                raise MailRefusedError(reply) from None
            raise MailError(reply) from None

    def _connect(self, context: ssl.SSLContext) -> smtplib.SMTP:
        s = self.settings
        if s.security == "ssl":
            return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=context)
        smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
        try:
            if s.security == "starttls":
                smtp.starttls(context=context)
        except BaseException:
            smtp.close()
            raise
        return smtp


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def build_mailer(settings: MailSettings) -> Mailer:
    """The mailer the settings choose (``mail.type``: outbox or smtp)."""
    if isinstance(settings, OutboxMail):
        return OutboxMailer(settings.directory)
    return SmtpMailer(settings)
