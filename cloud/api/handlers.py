"""The one place where the API's domain errors become HTTP statuses.

Routes raise the errors of the operations they call (:mod:`cloud.api.errors`, the
queue's, the MQTT link's) and never build an ``HTTPException`` for them; the handler
installed here answers ``{"detail": message}`` with the status below.
"""

from __future__ import annotations

import math
from typing import Final

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cloud.api.errors import (
    AuthError,
    BusyError,
    ConflictError,
    GoneError,
    NotFoundError,
    RetryLaterError,
    ThrottledError,
)
from cloud.api.link import LinkError
from cloud.api.routes import api_routes
from cloud.api.uploads import EmptyUploadError, NotAVideoError, UploadTooLargeError
from cloud.dances import DanceConflictError, DanceNotFoundError
from cloud.erasure import ErasureError
from cloud.jobs.queue import JobNotFoundError, JobStateError

# First match wins, so a subclass must come before its base.
STATUS: Final[tuple[tuple[type[Exception], int], ...]] = (
    (NotFoundError, status.HTTP_404_NOT_FOUND),
    (JobNotFoundError, status.HTTP_404_NOT_FOUND),
    (DanceNotFoundError, status.HTTP_404_NOT_FOUND),
    (DanceConflictError, status.HTTP_409_CONFLICT),
    (UploadTooLargeError, status.HTTP_413_CONTENT_TOO_LARGE),
    (NotAVideoError, status.HTTP_415_UNSUPPORTED_MEDIA_TYPE),
    (EmptyUploadError, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (ConflictError, status.HTTP_409_CONFLICT),
    (JobStateError, status.HTTP_409_CONFLICT),
    (ErasureError, status.HTTP_409_CONFLICT),
    (AuthError, status.HTTP_401_UNAUTHORIZED),
    (GoneError, status.HTTP_410_GONE),
    (LinkError, status.HTTP_503_SERVICE_UNAVAILABLE),
    (ThrottledError, status.HTTP_429_TOO_MANY_REQUESTS),
    (BusyError, status.HTTP_503_SERVICE_UNAVAILABLE),
)


def status_of(exc: Exception) -> int:
    """The HTTP status for a domain error (500 for anything not in :data:`STATUS`)."""
    for kind, code in STATUS:
        if isinstance(exc, kind):
            return code
    return status.HTTP_500_INTERNAL_SERVER_ERROR


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    headers = {}
    if isinstance(exc, RetryLaterError):
        headers["Retry-After"] = str(math.ceil(exc.retry_after_s))
    return JSONResponse({"detail": str(exc)}, status_code=status_of(exc), headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's own answer, except that a 405 lists every method the path allows (Starlette
    names only those of the first route matching the path)."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code != status.HTTP_405_METHOD_NOT_ALLOWED:
        return await http_exception_handler(request, exc)
    allowed: set[str] = set()
    for route in api_routes(request.app.routes):
        if route.path_regex.match(request.url.path):
            allowed |= route.methods or set()
    headers = {"Allow": ", ".join(sorted(allowed))} if allowed else None
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    for kind, _code in STATUS:
        app.add_exception_handler(kind, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
