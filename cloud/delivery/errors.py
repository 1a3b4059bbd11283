"""Errors of the delivery package.

DeliveryError
├── TokenError                  a link token that does not open anything
│   ├── InvalidTokenError         malformed, or not the token stored for that rendition
│   └── ExpiredTokenError         the right token, past its expiry
├── RangeNotSatisfiableError    a Range header the file cannot serve (HTTP 416)
├── DeliveryConflictError       the session cannot take a new link now (HTTP 409)
└── MailError                   an email that could not be rendered or sent: try again later
    └── MailRefusedError          the server refused it for good (5xx): retrying cannot help
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


class DeliveryConflictError(DeliveryError):
    """No link can be recorded now: no video or address, a state that does not deliver,
    or an email to the visitor in flight; the message says which."""


class MailError(DeliveryError):
    """An email could not be rendered or handed to the server (for now)."""


class MailRefusedError(MailError):
    """The server refused the email for good (a 5xx reply): it is not tried again."""
