"""The API against a real database (SQLite and PostgreSQL): auth, kiosk, capture, jobs, events."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.db.booths import booth_look
from cloud.db.engine import make_engine, session_factory, transaction
from cloud.db.lifecycle import ensure_session, transition
from cloud.db.models import Job, Session
from cloud.db.states import SessionState
from cloud.jobs.queue import JobQueue
from protocol.messages import CaptureCancel, CaptureStart
from protocol.topics import Command
from tests.cloud.api.conftest import CSRF, PASSWORD, Booth

OPERATOR_CALLS = [
    ("GET", "/api/visitors", None),
    ("DELETE", "/api/visitors/s0123", None),
    ("GET", "/api/booth/nodes", None),
    ("GET", "/api/booth/nodes/n1/preview.jpg", None),
    ("POST", "/api/booth/next", None),
    ("POST", "/api/booth/capture", {"session_id": "s0123"}),
    ("POST", "/api/booth/retake", {"session_id": "s0123"}),
    ("POST", "/api/booth/cancel", {"session_id": "s0123"}),
    ("GET", "/api/jobs", None),
    ("POST", "/api/jobs/1/retry", None),
    ("POST", "/api/jobs/1/cancel", None),
    ("POST", "/api/renditions/s0123/resend", None),
    ("GET", "/api/events", None),
    ("GET", "/api/auth/me", None),
    ("GET", "/api/booth/settings", None),
    ("PUT", "/api/booth/settings", {"layout": "solo"}),
]


@pytest.mark.parametrize(("method", "path", "body"), OPERATOR_CALLS)
def test_operator_calls_need_login(
    client: TestClient, method: str, path: str, body: dict[str, str] | None
) -> None:
    r = client.request(method, path, json=body, headers=CSRF)
    assert r.status_code == 401, r.text
    assert "log in" in r.json()["detail"]


def test_forged_cookie_and_missing_csrf_header_are_refused(
    client: TestClient, operator: TestClient
) -> None:
    client.cookies.set("dancebooth_login", "1:alice.forged.signature")
    assert client.get("/api/visitors").status_code == 401
    r = operator.post("/api/booth/next", headers={"X-Dancebooth": ""})
    assert r.status_code == 403 and "X-Dancebooth" in r.json()["detail"]


def test_login_rejects_wrong_password(client: TestClient) -> None:
    r = client.post("/api/auth/login", json={"name": "alice", "password": "nope"}, headers=CSRF)
    assert r.status_code == 401 and "wrong operator name or password" in r.text
    r = client.post("/api/auth/login", json={"name": "bob", "password": PASSWORD}, headers=CSRF)
    assert r.status_code == 401
    ok = client.post("/api/auth/login", json={"name": "alice", "password": PASSWORD}, headers=CSRF)
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_kiosk_registers_and_needs_consent(client: TestClient, booth: Booth) -> None:
    r = client.post("/api/visitors", json={"email": "ana@example.com", "consent": False})
    assert r.status_code == 422 and "consent is required" in r.text
    r = client.post("/api/visitors", json={"email": "not-an-email", "consent": True})
    assert r.status_code == 422
    r = client.post("/api/visitors", json={"email": "ana@example.com", "consent": True})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert client.get(f"/api/visitors/{sid}/status").json()["state"] == "registered"
    with session_factory(booth.engine)() as db:
        row = db.get(Session, sid)
        assert row is not None and row.consent and row.email == "ana@example.com"


def test_kiosk_is_rate_limited_and_keeps_what_it_accepted(client: TestClient, booth: Booth) -> None:
    codes = [
        client.post(
            "/api/visitors", json={"email": f"v{i}@example.com", "consent": True}
        ).status_code
        for i in range(7)
    ]
    assert codes == [201] * 5 + [429] * 2
    r = client.post("/api/visitors", json={"email": "late@example.com", "consent": True})
    assert int(r.headers["Retry-After"]) >= 1
    with session_factory(booth.engine)() as db:
        assert len(db.scalars(select(Session.id)).all()) == 5


def test_visitor_without_consent_cannot_be_captured(operator: TestClient, booth: Booth) -> None:
    with transaction(session_factory(booth.engine)) as db:  # e.g. created by the uploader
        ensure_session(db, "booth1", "snoconsent", SessionState.REGISTERED)
    r = operator.post("/api/booth/capture", json={"session_id": "snoconsent"})
    assert r.status_code == 409
    assert "no recorded consent" in r.json()["detail"]
    assert booth.link.sent == []
    with session_factory(booth.engine)() as db:
        assert db.scalar(select(Session.state).where(Session.id == "snoconsent")) == "registered"


def test_call_next_capture_retake(client: TestClient, operator: TestClient, booth: Booth) -> None:
    first = client.post("/api/visitors", json={"email": "a@example.com", "consent": True}).json()
    client.post("/api/visitors", json={"email": "b@example.com", "consent": True})
    assert operator.post("/api/booth/next").json()["id"] == first["id"]
    r = operator.post("/api/booth/capture", json={"session_id": first["id"]})
    assert r.status_code == 200, r.text
    (_booth_id, command, message) = booth.link.sent[0]
    assert command is Command.CAPTURE and isinstance(message, CaptureStart)
    assert message.start_at == pytest.approx(r.json()["start_at"]) and message.duration_s == 3
    again = operator.post("/api/booth/capture", json={"session_id": first["id"]})
    assert again.status_code == 409 and "is capturing" in again.json()["detail"]
    r = operator.post("/api/booth/cancel", json={"session_id": first["id"]})
    assert r.json()["state"] == "retake"
    assert isinstance(booth.link.sent[-1][2], CaptureCancel)
    again = operator.post("/api/booth/cancel", json={"session_id": first["id"]})
    assert again.status_code == 409 and "not capturing" in again.json()["detail"]
    operator.post("/api/booth/capture", json={"session_id": first["id"]})
    r = operator.post("/api/booth/retake", json={"session_id": first["id"]})
    assert r.json()["state"] == "retake"
    assert isinstance(booth.link.sent[-1][2], CaptureCancel)
    assert operator.post("/api/booth/capture", json={"session_id": "sunknown"}).status_code == 404


def test_jobs_list_cancel_retry_and_delete(
    operator: TestClient, client: TestClient, booth: Booth
) -> None:
    sid = client.post("/api/visitors", json={"email": "c@example.com", "consent": True}).json()[
        "id"
    ]
    with transaction(session_factory(booth.engine)) as db:
        transition(db, sid, SessionState.CAPTURING)
        transition(db, sid, SessionState.UPLOADED)
    job = JobQueue(session_factory(booth.engine)).enqueue(sid, "finetune")
    jobs = operator.get("/api/jobs").json()
    assert jobs[0]["id"] == job.id and jobs[0]["position"] == 1 and jobs[0]["eta_s"] > 0
    assert operator.post(f"/api/jobs/{job.id}/retry").status_code == 409
    r = operator.post(f"/api/jobs/{job.id}/cancel")
    assert r.json()["state"] == "cancelled"
    visitor = operator.get("/api/visitors").json()[0]
    assert visitor["state"] == "failed" and "cancelled" in visitor["error"]
    assert operator.post(f"/api/jobs/{job.id}/retry").json()["state"] == "queued"
    assert operator.post(f"/api/renditions/{sid}/resend").status_code == 409
    assert operator.post("/api/jobs/999999/cancel").status_code == 404
    assert operator.delete(f"/api/visitors/{sid}").json()["state"] == "deleted"
    with session_factory(booth.engine)() as db:
        row = db.get(Session, sid)
        assert row is not None and row.email is None
        assert db.get(Job, job.id) is None  # the visitor's jobs go with their data
    assert client.get(f"/api/visitors/{sid}/status").status_code == 404


def test_events_stream_delivers_changes_from_any_process(
    server: str, booth: Booth, db_url: str
) -> None:
    cookies = httpx.post(
        f"{server}/api/auth/login", json={"name": "alice", "password": PASSWORD}, headers=CSRF
    ).cookies
    got: list[dict[str, str]] = []
    ready = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{server}/api/events", cookies=cookies, timeout=10) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            kind = ""
            for line in r.iter_lines():
                ready.set()
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "session":
                    got.append(json.loads(line[6:]))
                    if len(got) == 2:
                        return

    t = threading.Thread(target=listen)
    t.start()
    assert ready.wait(10)
    r = httpx.post(f"{server}/api/visitors", json={"email": "e@example.com", "consent": True})
    sid = r.json()["id"]
    _wait_for(lambda: len(got) >= 1)
    # Another process (the uploader, a worker, a second API) changes the row: its own engine.
    other = make_engine(db_url)
    with transaction(session_factory(other)) as db:
        transition(db, sid, SessionState.CAPTURING)
    other.dispose()
    t.join(10)
    assert [(e["id"], e["state"]) for e in got] == [(sid, "registered"), (sid, "capturing")]


def _wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_pages_render(client: TestClient, operator: TestClient) -> None:
    kiosk = client.get("/")
    assert kiosk.status_code == 200 and 'id="consent"' in kiosk.text
    assert client.get("/operator", follow_redirects=False).headers["location"] == "/login"
    assert "Call next visitor" in operator.get("/operator").text
    assert client.get("/static/booth.css").status_code == 200


def test_the_operator_picks_the_booths_layout(operator: TestClient, booth: Booth) -> None:
    r = operator.get("/api/booth/settings")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "booth": booth.settings.booth,
        "name": "",
        "layout": "solo",
        "capture_mode": "free",  # the fixture's deployment
    }
    r = operator.put("/api/booth/settings", json={"layout": "side-by-side"})
    assert r.status_code == 200 and r.json()["layout"] == "side-by-side"
    r = operator.put("/api/booth/settings", json={"name": "  Booth One "})
    assert r.json() == {
        "booth": booth.settings.booth,
        "name": "Booth One",
        "layout": "side-by-side",
        "capture_mode": "free",
    }
    bad = operator.put("/api/booth/settings", json={"layout": "grid"})
    assert bad.status_code == 422
    assert operator.get("/api/booth/settings").json()["layout"] == "side-by-side"
    with session_factory(booth.engine)() as db:  # what the worker reads when it renders
        assert booth_look(db, booth.settings.booth).layout == "side-by-side"
