"""The mail relay the booth sends to: SMTP with STARTTLS and login (aiosmtpd), which the
rehearsal can make refuse mail (``451``) or go silent, and which keeps what it accepted.

It stands where the booth's mail provider stands; the checks read its mailbox as a
visitor reads their inbox. Every accepted message is also written to ``directory``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

logger = logging.getLogger(__name__)

LINK = re.compile(r"https?://[^\s\"'<>]+/r/[A-Za-z0-9_\-]+")


@dataclass(frozen=True)
class Mail:
    """One message the relay accepted."""

    at: float  # Unix time
    to: tuple[str, ...]
    subject: str
    links: tuple[str, ...]
    path: Path


class Relay:
    """aiosmtpd on 127.0.0.1 with STARTTLS required and one login; see the module doc."""

    def __init__(
        self, directory: Path, cert: Path, key: Path, user: str, password: str, port: int
    ) -> None:
        self.directory, self.user, self.password, self.port = directory, user, password, port
        directory.mkdir(parents=True, exist_ok=True)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._lock = threading.Lock()
        self._mail: list[Mail] = []
        self._refuse_s = 0.0
        self._refuse_until = 0.0
        self._armed = False  # the next message starts an outage
        self._drop_pending = False
        self.outage_started: float | None = None  # Unix s
        self.refused = 0  # 451 answers given
        self.dropped = 0  # connections dropped without an answer
        self.hold_s = 12.0  # a dropped connection hangs this long first
        self._controller = Controller(
            self,
            hostname="127.0.0.1",
            port=port,
            tls_context=context,
            require_starttls=True,
            authenticator=self._authenticate,
            auth_required=True,
        )

    def start(self) -> Relay:
        # aiosmtpd warns about its own deprecated attribute on every login.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    # -- faults ------------------------------------------------------------------------
    def refuse_for(self, seconds: float, then_drop_one: bool = True) -> None:
        """From the next message on, answer ``451`` to every message for ``seconds``; then
        go silent on the next connection and drop it."""
        with self._lock:
            self._refuse_s, self._armed = seconds, True
            self._drop_pending = then_drop_one
            self.outage_started = None

    # -- the mailbox -------------------------------------------------------------------
    def mail(self) -> list[Mail]:
        with self._lock:
            return list(self._mail)

    def mail_to(self, address: str) -> list[Mail]:
        return [m for m in self.mail() if address.lower() in (a.lower() for a in m.to)]

    # -- aiosmtpd hooks ----------------------------------------------------------------
    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.user
            and data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self._lock:
            now = time.time()
            if self._armed:
                self._armed = False
                self._refuse_until, self.outage_started = now + self._refuse_s, now
            refuse = now < self._refuse_until
            drop = not refuse and self._drop_pending
            if refuse:
                self.refused += 1
            elif drop:
                self._drop_pending = False
                self.dropped += 1
        if refuse:
            return "451 4.3.0 Relay busy, try again later"
        if drop:
            logger.info("relay: going silent on a connection, then dropping it")
            await asyncio.sleep(self.hold_s)
            server.transport.close()
            return "421 4.4.2 Connection dropped"
        self._keep(envelope.content, envelope.rcpt_tos)
        return "250 Message accepted for delivery"

    def _keep(self, content: bytes, rcpt: list[str]) -> None:
        msg = message_from_bytes(content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        to = tuple(a for _, a in getaddresses([*msg.get_all("To", []), *rcpt]) if a)
        texts = [part.get_content() for part in msg.walk() if part.get_content_maintype() == "text"]
        links = tuple(dict.fromkeys(m for t in texts for m in LINK.findall(str(t))))
        with self._lock:
            path = self.directory / f"{len(self._mail) + 1:04d}.eml"
            path.write_bytes(content)
            mail = Mail(time.time(), tuple(dict.fromkeys(to)), str(msg["Subject"]), links, path)
            self._mail.append(mail)
