"""Hand-off: a finished rendition either goes to the visitor or to an operator.

:func:`hand_off` applies the quality gate; a rendition that passes gets a fresh link
token and the email. One that fails gets neither: it waits as ``needs_review``
until an operator approves it, which calls :func:`send_link` directly. The caller
stores ``token.digest`` and ``token.expires_at`` with the rendition, never the token
itself, which exists only in the email. The rendition page lives at
``{public_url}/r/{token}``; its "Delete my data" button is at ``#delete``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from cloud.delivery.mailer import Mailer, SendResult
from cloud.delivery.message import RenditionEmail
from cloud.delivery.tokens import IssuedToken, issue_token
from cloud.render.quality import FlickerReport, QualityDecision, QualityGate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Visitor:
    session_id: str
    email: str
    name: str = ""


@dataclass(frozen=True)
class LinkPolicy:
    public_url: str
    ttl: timedelta
    token_bytes: int = 32
    event: str = "the dancebooth"
    contact: str = ""


@dataclass(frozen=True)
class Sent:
    token: IssuedToken
    mail: SendResult


@dataclass(frozen=True)
class HandOff:
    status: Literal["emailed", "needs_review"]
    decision: QualityDecision
    sent: Sent | None


def rendition_link(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/r/{token}"


def link_email(
    visitor: Visitor, dance: str, policy: LinkPolicy, token: IssuedToken, kind: str = "rendition"
) -> RenditionEmail:
    """The email carrying ``token``'s link (with its expiry and how to delete the data)."""
    link = rendition_link(policy.public_url, token.token)
    return RenditionEmail(
        session_id=visitor.session_id,
        to=visitor.email,
        link=link,
        expires_at=token.expires_at,
        dance=dance,
        delete_link=f"{link}#delete",
        name=visitor.name,
        event=policy.event,
        contact=policy.contact,
        kind=kind,
    )


def send_link(
    visitor: Visitor,
    dance: str,
    mailer: Mailer,
    policy: LinkPolicy,
    *,
    kind: str = "rendition",
    now: datetime | None = None,
) -> Sent:
    """Issue a link token for the visitor's rendition and email it."""
    token = issue_token(policy.ttl, nbytes=policy.token_bytes, now=now)
    return Sent(token, mailer.send(link_email(visitor, dance, policy, token, kind)))


def hand_off(
    visitor: Visitor,
    dance: str,
    *,
    held_out_ssim: float | None,
    flicker: FlickerReport | float,
    gate: QualityGate,
    mailer: Mailer,
    policy: LinkPolicy,
    now: datetime | None = None,
) -> HandOff:
    """Gate the rendition; email the link if it passes, else leave it for review."""
    decision = gate.decide(held_out_ssim, flicker)
    if not decision.deliver:
        logger.warning("session %s needs review: %s", visitor.session_id, decision.reasons)
        return HandOff("needs_review", decision, None)
    return HandOff("emailed", decision, send_link(visitor, dance, mailer, policy, now=now))
