"""Operator authentication: argon2 password hashes, signed login cookies, CSRF header.

The login cookie holds ``<operator id>:<name>`` signed (with a timestamp) by
``api.secret_key``; it is HttpOnly and SameSite=Lax. Every state-changing operator
request must also carry the ``X-Dancebooth`` header: a cross-site form cannot set
it and a cross-site script cannot send it without a CORS pre-flight we never grant.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy import select
from sqlalchemy.orm import Session as Db

from cloud.api.errors import AuthError, ConflictError
from cloud.db.models import Operator, utcnow
from protocol.ids import check_id

logger = logging.getLogger(__name__)

COOKIE = "dancebooth_login"
CSRF_HEADER = "X-Dancebooth"
MIN_PASSWORD = 10

_hasher = PasswordHasher()
# Verifying against this keeps an unknown name as slow as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True)
class OperatorIdentity:
    id: int
    name: str


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ConflictError(f"the password must have at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def add_operator(db: Db, name: str, password: str) -> Operator:
    check_id(name, "operator name")
    if db.scalar(select(Operator.id).where(Operator.name == name)) is not None:
        raise ConflictError(f"operator {name!r} already exists")
    operator = Operator(name=name, password_hash=hash_password(password))
    db.add(operator)
    db.flush()
    return operator


def authenticate(db: Db, name: str, password: str) -> OperatorIdentity:
    operator = db.scalar(select(Operator).where(Operator.name == name))
    try:
        _hasher.verify(operator.password_hash if operator else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        operator = None
    if operator is None:
        raise AuthError("wrong operator name or password")
    if _hasher.check_needs_rehash(operator.password_hash):
        operator.password_hash = _hasher.hash(password)
    operator.last_login_at = utcnow()
    return OperatorIdentity(operator.id, operator.name)


class LoginCookies:
    """Signs and checks login cookies with the API's secret key."""

    def __init__(self, secret_key: str, max_age_s: int) -> None:
        self._signer = TimestampSigner(secret_key, salt="dancebooth-login")
        self.max_age_s = max_age_s

    def issue(self, who: OperatorIdentity) -> str:
        return self._signer.sign(f"{who.id}:{who.name}").decode()

    def check(self, cookie: str | None) -> OperatorIdentity | None:
        if not cookie:
            return None
        try:
            value = self._signer.unsign(cookie, max_age=self.max_age_s).decode()
        except (BadSignature, UnicodeDecodeError):
            return None
        ident, _, name = value.partition(":")
        return OperatorIdentity(int(ident), name) if ident.isdigit() else None
