"""The rendition email: what it says (Jinja2 templates) and its stable identity.

Every email is about one session and of one *kind* (the worker's ``"rendition-job-7"``,
an approval's or a re-send's own). The pair gives the message a deterministic key and
``Message-ID``: the outbox records each key once (:mod:`cloud.delivery.outbox`), and
should a crash fall between the server's "250 OK" and our bookkeeping, the repeated
Message-ID lets mail systems drop the duplicate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, select_autoescape

from cloud.delivery.errors import MailError

TEMPLATES: Final = Path(__file__).parent / "templates"
SESSION_HEADER: Final = "X-Dancebooth-Session"  # whose email it is (deletion finds it by this)
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,  # a missing field is an error, not an empty link
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class RenditionEmail:
    """Everything the rendition email needs; ``link`` carries the unguessable token."""

    session_id: str
    to: str
    link: str
    expires_at: datetime
    dance: str
    delete_link: str
    name: str = ""
    event: str = "the dancebooth"
    contact: str = ""
    kind: str = "rendition"
    privacy_link: str = ""  # what the booth keeps, where, how long (/privacy)

    @property
    def key(self) -> str:
        """Stable identity of this (session, kind): file name and Message-ID local part."""
        return mail_key(self.session_id, self.kind)


def mail_key(session_id: str, kind: str) -> str:
    """The delivery key of a session's email of one kind (unique in the outbox)."""
    return hashlib.sha256(f"{session_id}\x00{kind}".encode()).hexdigest()[:32]


def _check_address(address: str, what: str) -> None:
    _, addr = parseaddr(address)
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain or any(c in address for c in "\r\n"):
        raise MailError(f"{what} {address!r} is not an email address")


def compose(email: RenditionEmail, sender: str) -> EmailMessage:
    """The multipart (plain text + HTML) message for ``email``, from ``sender``."""
    _check_address(email.to, "recipient")
    _check_address(sender, "sender")
    if email.expires_at.tzinfo is None:
        raise MailError("expires_at must be timezone-aware (UTC)")
    fields = {
        "name": email.name,
        "event": email.event,
        "dance": email.dance,
        "link": email.link,
        "delete_link": email.delete_link,
        "expires": f"{email.expires_at:%A %d %B %Y, %H:%M}",
        "contact": email.contact,
        "privacy_link": email.privacy_link,
    }
    try:
        subject = _env.get_template("rendition.subject.txt").render(fields).strip()
        text = _env.get_template("rendition.txt").render(fields)
        html = _env.get_template("rendition.html").render(fields)
    except TemplateError as exc:
        raise MailError(f"cannot render the rendition email: {exc}") from None
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = formataddr((email.name, email.to)) if email.name else email.to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now().astimezone())
    msg["Message-ID"] = f"<{email.key}@dancebooth>"
    msg[SESSION_HEADER] = email.session_id
    msg["X-Dancebooth-Kind"] = email.kind
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg
