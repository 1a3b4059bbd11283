"""Operator authentication: argon2 password hashes, server-side logins, CSRF header.

A login is a row in ``operator_logins`` holding the SHA-256 of a random token; the
cookie holds that token signed (with a timestamp) by ``api.secret_key``. Logging out
deletes the row, and so do removing an operator and setting a new password, so a
copied cookie stops working at once in every API process. The cookie is HttpOnly and
SameSite=Lax. Every state-changing operator request must also carry the
``X-Dancebooth`` header: a cross-site form cannot set it and a cross-site script cannot
send it without a CORS pre-flight we never grant.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy import delete, select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.api.errors import AuthError, ConflictError, NotFoundError
from cloud.db.models import Operator, OperatorLogin, utcnow
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


def _operator(db: Db, name: str) -> Operator:
    operator = db.scalar(select(Operator).where(Operator.name == name))
    if operator is None:
        raise NotFoundError(f"no operator {name!r} (see `dancebooth cloud operator list`)")
    return operator


def set_password(db: Db, name: str, password: str) -> int:
    """Give ``name`` a new password and end every login they have; how many ended."""
    operator = _operator(db, name)
    operator.password_hash = hash_password(password)
    return revoke_logins(db, operator.id)


def remove_operator(db: Db, name: str) -> int:
    """Delete ``name`` and end every login they have; how many ended."""
    operator = _operator(db, name)
    ended = revoke_logins(db, operator.id)
    db.delete(operator)
    return ended


def list_operators(db: Db) -> list[Operator]:
    return list(db.scalars(select(Operator).order_by(Operator.name)))


def revoke_logins(db: Db, operator_id: int) -> int:
    result = db.execute(delete(OperatorLogin).where(OperatorLogin.operator_id == operator_id))
    return int(getattr(result, "rowcount", 0) or 0)


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


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Logins:
    """Opens, checks and ends operator logins (cookie <-> ``operator_logins`` row)."""

    def __init__(self, secret_key: str, max_age_s: int, factory: sessionmaker[Db]) -> None:
        self._signer = TimestampSigner(secret_key, salt="dancebooth-login")
        self.max_age_s = max_age_s
        self._factory = factory

    def open(self, db: Db, who: OperatorIdentity) -> str:
        """Record a new login for ``who`` in ``db``; the cookie value to hand out."""
        now = utcnow()
        db.execute(delete(OperatorLogin).where(OperatorLogin.expires_at <= now))
        token = secrets.token_urlsafe(32)
        expires = now + timedelta(seconds=self.max_age_s)
        db.add(OperatorLogin(digest=_digest(token), operator_id=who.id, expires_at=expires))
        return self._signer.sign(token).decode()

    def check(self, cookie: str | None) -> OperatorIdentity | None:
        """Who ``cookie`` is logged in as, or None (unsigned, expired, revoked)."""
        token = self._token(cookie)
        if token is None:
            return None
        with self._factory() as db:
            row = db.execute(
                select(Operator.id, Operator.name)
                .join(OperatorLogin, OperatorLogin.operator_id == Operator.id)
                .where(OperatorLogin.digest == _digest(token), OperatorLogin.expires_at > utcnow())
            ).first()
        return OperatorIdentity(row.id, row.name) if row else None

    def end(self, db: Db, cookie: str | None) -> None:
        """Revoke the login ``cookie`` carries (logout); nothing if there is none."""
        token = self._token(cookie)
        if token is not None:
            db.execute(delete(OperatorLogin).where(OperatorLogin.digest == _digest(token)))

    def _token(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            return self._signer.unsign(cookie, max_age=self.max_age_s).decode()
        except (BadSignature, UnicodeDecodeError):
            return None
