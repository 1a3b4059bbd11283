"""A real SMTP server for the tests: aiosmtpd on a free port, with TLS, auth and failures."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.services import free_port

USER, PASSWORD = "booth", "s3cret-pass"


@dataclass
class Inbox:
    """The handler: keeps what it accepts; refuses the next ``refuse`` messages with 451."""

    refuse: int = 0
    refuse_reply: str = "451 4.3.0 Try again later"
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse > 0:
            self.refuse -= 1
            return self.refuse_reply
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = (
        isinstance(data, LoginPassword)
        and data.login.decode() == USER
        and data.password.decode() == PASSWORD
    )
    return AuthResult(success=ok, handled=False)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost / 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class SmtpServer:
    port: int
    inbox: Inbox
    cert: Path | None


@contextmanager
def run_smtp(
    tmp: Path, *, security: str = "none", auth: bool = False, port: int | None = None
) -> Iterator[SmtpServer]:
    """aiosmtpd on 127.0.0.1: ``security`` none / starttls / ssl; ``auth`` requires login."""
    inbox = Inbox()
    port = port or free_port()
    kwargs: dict[str, Any] = {}
    cert = None
    if security != "none":
        cert, key = self_signed(tmp)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        kwargs["ssl_context" if security == "ssl" else "tls_context"] = ctx
        if security == "starttls":
            kwargs["require_starttls"] = True
    if auth:
        kwargs.update(authenticator=_authenticator, auth_required=True)
        # aiosmtpd counts only STARTTLS as TLS for AUTH; implicit TLS is TLS all the same.
        kwargs["auth_require_tls"] = security == "starttls"
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield SmtpServer(port, inbox, cert)
    finally:
        controller.stop()
