"""Every page and API answer carries the security headers: a CSP that forbids framing and
anything not served by the booth itself, no sniffing, no referrer."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cloud.api.headers import content_security_policy, media_origin
from cloud.settings import S3Storage
from cloud.storage import create_storage
from tests.cloud.api.conftest import Booth

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _directives(csp: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in csp.split(";"))


@sqlite_only
@pytest.mark.parametrize("path", ["/", "/login", "/operator", "/static/booth.css", "/api/auth/me"])
def test_pages_and_answers_forbid_framing_and_foreign_content(
    operator: TestClient, booth: Booth, path: str
) -> None:
    r = operator.get(path)
    assert r.status_code == 200, r.text
    csp = _directives(r.headers["Content-Security-Policy"])
    assert csp["frame-ancestors"] == "'none'"
    assert csp["default-src"] == csp["script-src"] == csp["style-src"] == "'self'"
    assert csp["object-src"] == "'none'"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"


@sqlite_only
def test_errors_carry_the_headers_too(client: TestClient) -> None:
    r = client.get("/api/visitors")
    assert r.status_code == 401
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


def test_videos_from_the_object_store_are_allowed_by_origin() -> None:
    settings = S3Storage(
        bucket="booth-videos",
        endpoint_url="https://s3.booth.example:9000",
        access_key_id="key",
        secret_access_key="secret",
    )
    storage = create_storage(settings)
    try:
        origin = media_origin(storage)
    finally:
        storage.close()
    assert origin == "https://s3.booth.example:9000"
    csp = _directives(content_security_policy(origin))
    assert csp["media-src"] == "'self' https://s3.booth.example:9000"
    assert csp["img-src"] == "'self'"
