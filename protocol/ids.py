"""Identifiers of booths, nodes and sessions: safe as topic segments and storage keys."""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Final

from pydantic import StringConstraints

from protocol.errors import IdentifierError

# Letters, digits, '-' and '_' only: no '/', '+', '#', '.', so an id can never
# widen an MQTT subscription or climb out of an object-store prefix.
ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
ID_MAX_LEN: Final = 64
_ID_RE: Final = re.compile(ID_PATTERN)

Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=ID_MAX_LEN)]


def check_id(value: str, what: str = "id") -> str:
    """Return ``value`` if it is a valid identifier, else raise :class:`IdentifierError`."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise IdentifierError(
            f"invalid {what} {value!r}: use 1-64 letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return value


def new_session_id() -> str:
    """A fresh, unguessable session id (``s`` + 24 hex digits, 96 random bits)."""
    return "s" + secrets.token_hex(12)
