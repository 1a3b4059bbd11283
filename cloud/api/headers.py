"""Security headers on every response: a Content-Security-Policy that allows only the
booth's own scripts, styles, images and connections and forbids framing, plus no MIME
sniffing and no referrer (rendition links carry their token in the path).

The rendition video may come from the object store (S3 answers a presigned redirect),
so that one origin is added to ``media-src``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloud.storage import Storage
from cloud.storage.local import LocalStorage


def content_security_policy(media_origin: str | None = None) -> str:
    media = "'self'" + (f" {media_origin}" if media_origin else "")
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            f"media-src {media}",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def media_origin(storage: Storage) -> str | None:
    """The origin videos are redirected to, or None when the API serves them itself."""
    if isinstance(storage, LocalStorage):
        return None
    parts = urlsplit(storage.url("csp-probe", expires_s=60))  # presigning needs no request
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


class SecurityHeaders:
    """ASGI middleware adding the headers (pure ASGI, so event streams pass untouched)."""

    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.headers = {
            "Content-Security-Policy": csp,
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
