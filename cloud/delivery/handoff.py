"""What a rendition link is: its policy (where, how long), the visitor, and its email.

The rendition page lives at ``{public_url}/r/{token}``; its "Delete my data" button is
at ``#delete``. Only :mod:`cloud.delivery.outbox` issues tokens and records the email
that carries one; the database keeps the token's digest, never the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cloud.delivery.message import RenditionEmail
from cloud.delivery.tokens import IssuedToken
from cloud.settings import CloudSettings


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


def link_policy(settings: CloudSettings) -> LinkPolicy:
    """The link policy the settings describe (public address, lifetime, token size)."""
    return LinkPolicy(
        settings.api.public_url,
        timedelta(days=settings.delivery.link_ttl_days),
        settings.delivery.token_bytes,
    )


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
        privacy_link=f"{policy.public_url.rstrip('/')}/privacy",
    )
