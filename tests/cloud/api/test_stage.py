"""The stage screen's API: the latest capture with its shared start, its dance's files
(figure only when there is no video), the QA verdict; operators only."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_session
from cloud.db.models import CaptureQa
from cloud.db.states import SessionState
from tests.cloud.api.conftest import Booth


def test_the_stage_needs_an_operator(client: TestClient) -> None:
    assert client.get("/api/booth/stage").status_code == 401
    page = client.get("/stage", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/stage"


def test_nothing_captured_yet_gives_only_the_clock(operator: TestClient) -> None:
    before = time.time()
    view = operator.get("/api/booth/stage").json()
    assert before - 1 <= view["server_time"] <= time.time() + 1
    assert view["session_id"] is None and view["dance"] is None


def test_the_capture_started_by_the_operator_is_on_stage(
    booth: Booth, client: TestClient, operator: TestClient
) -> None:
    r = client.post("/api/visitors", json={"email": "ana@example.com", "consent": True})
    sid = r.json()["id"]
    started = operator.post("/api/booth/capture", json={"session_id": sid})
    assert started.status_code == 200, started.text
    view = operator.get("/api/booth/stage").json()
    assert view["session_id"] == sid and view["state"] == "capturing"
    assert view["start_at"] == started.json()["start_at"] and view["duration_s"] == 3
    dance = view["dance"]
    assert dance["video"] is None  # the synthetic dances have no video: the figure plays
    assert dance["keypoints"] == f"/api/dances/{dance['name']}/files/keypoints.csv"
    assert dance["music"].endswith("/files/music.m4a")
    assert operator.get(dance["keypoints"]).text.startswith("frame,nose_x")
    assert view["qa_passed"] is None and view["retake_reasons"] == []


def test_the_verdict_and_an_unknown_dance(booth: Booth, operator: TestClient) -> None:
    with transaction(session_factory(booth.engine)) as db:
        row = ensure_session(db, "booth1", "s1", SessionState.UPLOADED)
        row.dance, row.capture_start_at, row.capture_s = "gone-dance", time.time() - 20, 15.0
        report = {"passed": False, "reasons": ["feet out of frame"], "nodes": []}
        db.add(CaptureQa(session_id="s1", passed=False, coverage=None, report=report))
    view = operator.get("/api/booth/stage").json()
    assert view["dance"] is None
    assert view["qa_passed"] is False and view["retake_reasons"] == ["feet out of frame"]
