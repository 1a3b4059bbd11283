"""Link tokens: entropy, hashing at rest, constant-time check, expiry."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from cloud.delivery.errors import ExpiredTokenError, InvalidTokenError
from cloud.delivery.tokens import check_token, issue_token, token_digest, well_formed

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_tokens_are_long_random_and_stored_only_hashed() -> None:
    issued = [issue_token(timedelta(days=30), now=NOW) for _ in range(200)]
    tokens = {t.token for t in issued}
    assert len(tokens) == 200
    for t in issued:
        raw = base64.urlsafe_b64decode(t.token + "=" * (-len(t.token) % 4))
        assert len(raw) * 8 >= 256
        assert t.digest == token_digest(t.token) and len(t.digest) == 64
        assert t.token not in t.digest
        assert t.expires_at == NOW + timedelta(days=30)
        assert well_formed(t.token)


def test_fewer_than_128_bits_or_no_lifetime_is_refused() -> None:
    with pytest.raises(ValueError, match="128 bits"):
        issue_token(timedelta(days=1), nbytes=8)
    with pytest.raises(ValueError, match="positive"):
        issue_token(timedelta(0))
    assert len(issue_token(timedelta(days=1), nbytes=16).token) >= 22


def test_the_right_token_opens_until_it_expires() -> None:
    t = issue_token(timedelta(hours=1), now=NOW)
    check_token(t.token, t.digest, t.expires_at, now=NOW + timedelta(minutes=59))
    with pytest.raises(ExpiredTokenError, match="expired on 2026-06-01 13:00"):
        check_token(t.token, t.digest, t.expires_at, now=NOW + timedelta(hours=1))


@pytest.mark.parametrize(
    "presented",
    ["", "short", "x" * 500, "../../etc/passwd", "a b c d e f g h i j k l m n", "é" * 30],
)
def test_garbage_is_invalid_not_an_exception_of_another_kind(presented: str) -> None:
    t = issue_token(timedelta(hours=1), now=NOW)
    with pytest.raises(InvalidTokenError, match="malformed"):
        check_token(presented, t.digest, t.expires_at, now=NOW)


def test_another_valid_token_or_the_digest_itself_does_not_open() -> None:
    t = issue_token(timedelta(hours=1), now=NOW)
    other = issue_token(timedelta(hours=1), now=NOW)
    with pytest.raises(InvalidTokenError, match="unknown"):
        check_token(other.token, t.digest, t.expires_at, now=NOW)
    # A leaked database row is useless: its digest is not a token that opens it.
    with pytest.raises(InvalidTokenError):
        check_token(t.digest, t.digest, t.expires_at, now=NOW)


def test_naive_expiry_is_a_programming_error() -> None:
    t = issue_token(timedelta(hours=1), now=NOW)
    with pytest.raises(ValueError, match="timezone"):
        check_token(t.token, t.digest, datetime(2030, 1, 1), now=NOW)
