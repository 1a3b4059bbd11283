"""Errors of the booth operations; :mod:`cloud.api.handlers` turns them into HTTP statuses.

BoothError
├── NotFoundError     no such visitor / job / node
├── ConflictError     the request does not fit the current state (e.g. no consent)
├── AuthError         wrong operator name or password
└── GoneError         an expired rendition link
"""

from __future__ import annotations


class BoothError(Exception):
    """A booth operation that cannot be done; the message says why and what to do."""


class NotFoundError(BoothError, LookupError):
    """The thing asked for does not exist."""


class ConflictError(BoothError):
    """The request does not fit the current state."""


class AuthError(BoothError):
    """Authentication failed."""


class GoneError(BoothError):
    """It existed but is no longer available (an expired link)."""
