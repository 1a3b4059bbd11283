"""Capture QA over the API: the verdict on the dashboard and the visitor's status, the
operator's accept (queued, logged) or retake, the booth's auto-accept; bad requests."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_session
from cloud.db.models import CaptureQa, Job
from cloud.db.states import SessionState
from protocol.messages import CaptureCancel
from tests.cloud.api.conftest import CSRF, Booth

REASONS = ["hardly any movement (0.05 torso lengths, need 0.10): dance, move the arms and legs"]
REPORT = {
    "passed": False,
    "coverage": 0.41,
    "reasons": REASONS,
    "nodes": [{"node": "node1", "poses": {"motion": 0.05}, "images": None, "notes": ["n"]}],
}


def _held(booth: Booth, sid: str = "sheld") -> None:
    with transaction(session_factory(booth.engine)) as db:
        row = ensure_session(db, "booth1", sid, SessionState.UPLOADED)
        row.email, row.consent = "ana@example.com", True
        db.add(CaptureQa(session_id=sid, passed=False, coverage=0.41, report=REPORT))


def _jobs(booth: Booth, sid: str) -> int:
    with session_factory(booth.engine)() as db:
        return len(db.scalars(select(Job).where(Job.session_id == sid)).all())


def test_a_suggested_retake_shows_on_the_dashboard_and_the_visitors_status(
    booth: Booth, client: TestClient, operator: TestClient
) -> None:
    _held(booth)
    status = client.get("/api/visitors/sheld/status").json()
    assert status["state"] == "uploaded" and status["retake_reasons"] == REASONS
    [row] = [v for v in operator.get("/api/visitors").json() if v["id"] == "sheld"]
    assert row["qa"]["passed"] is False and row["qa"]["reasons"] == REASONS
    assert row["qa"]["decision"] is None and row["qa"]["notes"] == ["n"]
    verdict = operator.get("/api/visitors/sheld/qa").json()
    assert verdict["coverage"] == 0.41 and verdict["report"]["nodes"][0]["node"] == "node1"


def test_the_operator_accepts_and_the_override_is_logged(
    booth: Booth, operator: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    _held(booth)
    r = operator.post("/api/visitors/sheld/qa", json={"decision": "accept"})
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == "accepted" and r.json()["decided_by"] == "alice"
    assert _jobs(booth, "sheld") == 1
    assert operator.get("/api/visitors/sheld/status").json()["state"] == "queued"
    logged = [m.getMessage() for m in caplog.records if "overrode capture QA" in m.getMessage()]
    assert logged and "alice" in logged[0] and "coverage 0.41" in logged[0]
    again = operator.post("/api/visitors/sheld/qa", json={"decision": "accept"})
    assert again.status_code == 409 and "only an uploaded take" in again.json()["detail"]


def test_the_operator_sends_the_visitor_to_retake(booth: Booth, operator: TestClient) -> None:
    _held(booth)
    r = operator.post("/api/visitors/sheld/qa", json={"decision": "retake"})
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == "retake"
    assert operator.get("/api/visitors/sheld/status").json()["state"] == "retake"
    assert isinstance(booth.link.sent[-1][2], CaptureCancel)
    assert _jobs(booth, "sheld") == 0
    assert operator.post("/api/visitors/sheld/qa", json={"decision": "retake"}).status_code == 409


def test_bad_requests(booth: Booth, client: TestClient, operator: TestClient) -> None:
    _held(booth)
    assert client.get("/api/visitors/sheld/qa").status_code == 401
    no_login = client.post("/api/visitors/sheld/qa", json={"decision": "accept"}, headers=CSRF)
    assert no_login.status_code == 401
    assert operator.get("/api/visitors/nobody/qa").status_code == 404
    with transaction(session_factory(booth.engine)) as db:
        ensure_session(db, "booth1", "fresh", SessionState.REGISTERED)
    fresh = operator.post("/api/visitors/fresh/qa", json={"decision": "accept"})
    assert fresh.status_code == 404 and "no capture QA verdict" in fresh.json()["detail"]
    for body in ({"decision": "maybe"}, {}, {"decision": "accept", "extra": 1}):
        assert operator.post("/api/visitors/sheld/qa", json=body).status_code == 422
    assert operator.post("/api/visitors/bad id!/qa", json={"decision": "accept"}).status_code in (
        404,
        422,
    )
    assert _jobs(booth, "sheld") == 0


def test_the_booth_switches_to_auto_accept(booth: Booth, operator: TestClient) -> None:
    assert operator.get("/api/booth/qa").json() == {"booth": "booth1", "auto_accept": False}
    r = operator.put("/api/booth/qa", json={"auto_accept": True})
    assert r.status_code == 200 and r.json()["auto_accept"] is True
    assert operator.get("/api/booth/qa").json()["auto_accept"] is True
    assert operator.put("/api/booth/qa", json={"auto_accept": "maybe"}).status_code == 422
    assert operator.put("/api/booth/qa", json={}).status_code == 422
