"""Errors of the delivery package.

DeliveryError
├── TokenError                  a link token that does not open anything
│   ├── InvalidTokenError         malformed, or not the token stored for that rendition
│   └── ExpiredTokenError         the right token, past its expiry
├── RangeNotSatisfiableError    a Range header the file cannot serve (HTTP 416)
└── MailError                   an email that could not be rendered or sent
    └── MailQueuedError           the server refused or failed: the email waits in the queue
"""


class DeliveryError(RuntimeError):
    """Something between a finished rendition and the visitor went wrong."""


class TokenError(DeliveryError):
    """A link token that does not grant access; routes answer 404 (or 410 if expired)."""


class InvalidTokenError(TokenError):
    """Malformed, unknown, or not matching the stored hash."""


class ExpiredTokenError(TokenError):
    """A correct token whose link has expired."""


class RangeNotSatisfiableError(DeliveryError):
    """A byte range outside the file or malformed; answer 416 with ``bytes */size``."""

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


class MailError(DeliveryError):
    """An email could not be rendered or handed to the server."""


class MailQueuedError(MailError):
    """Sending failed for now; the message is kept in the queue for a later flush()."""
