"""Link tokens: unguessable, expiring, and stored only as a hash.

A token is ``secrets.token_urlsafe(nbytes)`` (32 bytes = 256 bits by default, never
fewer than 16 = 128 bits). The visitor's link carries it; the database keeps only its
SHA-256 (:func:`token_digest`), so a leaked table opens no video. A route looks the
row up by the digest of what was presented, then :func:`check_token` compares in
constant time and checks expiry. SHA-256 without salt or stretching is enough here
because tokens are high-entropy random strings, not passwords: there is nothing to
guess from a dictionary.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from cloud.delivery.errors import ExpiredTokenError, InvalidTokenError

MIN_BYTES: Final = 16  # 128 bits
_SHAPE: Final = re.compile(r"[A-Za-z0-9_-]{22,128}")


@dataclass(frozen=True)
class IssuedToken:
    """A fresh token: ``token`` goes into the link (shown once), ``digest`` into the DB."""

    token: str
    digest: str
    expires_at: datetime


def token_digest(token: str) -> str:
    """The stored form of a token: hex SHA-256."""
    return hashlib.sha256(token.encode("ascii", "strict")).hexdigest()


def issue_token(ttl: timedelta, *, nbytes: int = 32, now: datetime | None = None) -> IssuedToken:
    """A new token valid for ``ttl`` from ``now`` (UTC)."""
    if nbytes < MIN_BYTES:
        raise ValueError(f"tokens need at least {MIN_BYTES} random bytes (128 bits), got {nbytes}")
    if ttl <= timedelta(0):
        raise ValueError(f"a token must live for a positive time, got {ttl}")
    token = secrets.token_urlsafe(nbytes)
    start = now or datetime.now(UTC)
    return IssuedToken(token, token_digest(token), start + ttl)


def well_formed(token: str) -> bool:
    """Whether ``token`` could be one of ours (checked before hashing or any lookup)."""
    return bool(_SHAPE.fullmatch(token))


def check_token(
    presented: str, stored_digest: str, expires_at: datetime, *, now: datetime | None = None
) -> None:
    """Raise unless ``presented`` opens the row: invalid (404) or expired (410).

    The digest comparison is constant-time; expiry is checked only after a match, so
    an expired link is told apart from a wrong one (410 vs 404) without a leak.
    """
    if not well_formed(presented):
        raise InvalidTokenError("malformed link token")
    if not hmac.compare_digest(token_digest(presented), stored_digest):
        raise InvalidTokenError("unknown link token")
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware (UTC)")
    if (now or datetime.now(UTC)) >= expires_at:
        raise ExpiredTokenError(f"this link expired on {expires_at:%Y-%m-%d %H:%M} UTC")
