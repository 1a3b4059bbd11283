"""Mailers: the Mailer interface, the outbox folder (embedded default) and SMTP.

A :class:`Mailer` provides ``send(email) -> SendResult`` and ``flush() -> FlushReport``.
Sending is idempotent per (session, kind) (see :mod:`cloud.delivery.message`):
a second ``send`` of the same key reports ``already_sent`` and sends nothing.

- :class:`OutboxMailer` writes each message as ``<key>.eml`` into a folder and logs
  the link: the demo's "mail server", readable by any mail client.
- :class:`SmtpMailer` first writes the message into a queue directory
  (``pending/``), then delivers it over SMTP (STARTTLS, implicit TLS or plain; login
  if configured; timeouts), retrying transient failures (4xx replies, refused or
  dropped connections, timeouts) with exponential backoff. Delivered messages move
  to ``sent/`` (the sent log that stops a second send); permanently refused ones
  (5xx) to ``failed/`` with the reason; anything else stays in ``pending/`` for
  :meth:`SmtpMailer.flush` to retry later. Nothing accepted is ever lost. One queue
  directory per host; a file lock serialises senders on it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import smtplib
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Literal, Protocol

from cloud.delivery.errors import MailError
from cloud.delivery.message import RenditionEmail, compose
from cloud.settings import MailSettings, OutboxMail, SmtpMail

logger = logging.getLogger(__name__)

Status = Literal["sent", "already_sent", "queued", "failed"]


@dataclass(frozen=True)
class SendResult:
    key: str
    status: Status
    detail: str = ""


@dataclass(frozen=True)
class FlushReport:
    sent: int = 0
    queued: int = 0
    failed: int = 0


class Mailer(Protocol):
    def send(self, email: RenditionEmail) -> SendResult:
        """Deliver (or durably queue) ``email``; never sends the same key twice."""
        ...

    def flush(self) -> FlushReport:
        """Retry whatever is queued."""
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
    """Writes ``.eml`` files into ``directory`` and logs the link (the embedded default)."""

    def __init__(self, directory: Path, sender: str) -> None:
        self.directory = Path(directory)
        self.sender = sender
        self.directory.mkdir(parents=True, exist_ok=True)

    def send(self, email: RenditionEmail) -> SendResult:
        path = self.directory / f"{email.key}.eml"
        if path.exists():
            return SendResult(email.key, "already_sent", str(path))
        _atomic_write(path, compose(email, self.sender).as_bytes())
        logger.info("email to %s written to %s; link: %s", email.to, path, email.link)
        return SendResult(email.key, "sent", str(path))

    def flush(self) -> FlushReport:
        return FlushReport()  # the folder is the delivery: nothing ever waits


class _PermanentError(Exception):
    """The server refused the message for good (5xx): retrying will not help."""


class _StuckError(Exception):
    """A problem retrying cannot fix now (bad credentials, certificate): stays queued."""


class SmtpMailer:
    """SMTP with a durable queue, retries with backoff and a sent log (see module doc)."""

    def __init__(self, settings: SmtpMail, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self._sleep = sleep
        root = Path(settings.queue_directory)
        self.pending, self.sent, self.failed = root / "pending", root / "sent", root / "failed"
        for d in (self.pending, self.sent, self.failed):
            d.mkdir(parents=True, exist_ok=True)
        self._lock_path = root / ".lock"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def send(self, email: RenditionEmail) -> SendResult:
        data = compose(email, self.settings.sender).as_bytes()
        with self._locked():
            if (self.sent / f"{email.key}.eml").exists():
                return SendResult(email.key, "already_sent")
            pending = self.pending / f"{email.key}.eml"
            if not pending.exists():
                _atomic_write(pending, data)
            return self._try(pending)

    def flush(self) -> FlushReport:
        counts = {"sent": 0, "queued": 0, "failed": 0}
        with self._locked():
            for path in sorted(self.pending.glob("*.eml")):
                result = self._try(path)
                counts[result.status] = counts.get(result.status, 0) + 1
        return FlushReport(counts["sent"], counts["queued"], counts["failed"])

    def queued(self) -> list[str]:
        return sorted(p.stem for p in self.pending.glob("*.eml"))

    def _try(self, path: Path) -> SendResult:
        key = path.stem
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        try:
            self._deliver_with_retries(msg)
        except _PermanentError as exc:
            os.replace(path, self.failed / path.name)
            (self.failed / f"{key}.reason").write_text(str(exc) + "\n")
            logger.error("email %s refused for good, moved to %s: %s", key, self.failed, exc)
            return SendResult(key, "failed", str(exc))
        except (_StuckError, MailError) as exc:
            logger.warning("email %s stays queued in %s: %s", key, self.pending, exc)
            return SendResult(key, "queued", str(exc))
        os.replace(path, self.sent / path.name)
        logger.info("email %s sent to %s", key, msg["To"])
        return SendResult(key, "sent")

    def _deliver_with_retries(self, msg: EmailMessage) -> None:
        s = self.settings
        last = ""
        for attempt in range(s.attempts):
            if attempt:
                self._sleep(s.backoff_s * 2 ** (attempt - 1))
            try:
                self._deliver(msg)
                return
            except (_PermanentError, _StuckError):
                raise
            except (smtplib.SMTPException, OSError) as exc:
                last = f"{type(exc).__name__}: {exc}"
                logger.info("SMTP attempt %d/%d failed: %s", attempt + 1, s.attempts, last)
        raise MailError(f"SMTP {s.host}:{s.port} failed {s.attempts} times; last: {last}")

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
            raise _StuckError(
                f"SMTP login refused ({exc.smtp_code}); check mail.username/password"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise _StuckError(f"SMTP server lacks a feature ({exc}); check mail.security") from None
        except ssl.SSLCertVerificationError as exc:
            raise _StuckError(f"SMTP certificate not trusted ({exc}); set mail.ca_file") from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if all(c >= 500 for c in codes):
                raise _PermanentError(f"recipients refused: {exc.recipients}") from None
            raise
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500:
                raise _PermanentError(f"{exc.smtp_code} {exc.smtp_error!r}") from None
            raise

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


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def build_mailer(settings: MailSettings) -> Mailer:
    """The mailer the settings choose (``mail.type``: outbox or smtp)."""
    if isinstance(settings, OutboxMail):
        return OutboxMailer(settings.directory, settings.sender)
    return SmtpMailer(settings)
