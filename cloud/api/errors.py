"""Errors of the booth operations; :mod:`cloud.api.handlers` turns them into HTTP statuses.

BoothError
├── NotFoundError     no such visitor / job / node
├── ConflictError     the request does not fit the current state (e.g. no consent)
├── AuthError         wrong operator name or password
├── GoneError         an expired rendition link
└── RetryLaterError   not now; the client may retry after ``retry_after_s``
    ├── ThrottledError    too many failed logins from this account or address
    └── BusyError         too many password checks at once in this process
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


class RetryLaterError(BoothError):
    """The request is refused for now; it may be sent again after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ThrottledError(RetryLaterError):
    """Too many failed attempts recently."""


class BusyError(RetryLaterError):
    """Too much of this work is in progress already."""
