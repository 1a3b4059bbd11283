"""The operator's review of a held rendition: preview with byte ranges, approve (link emailed,
delivered), retake, reject with a reason; only from ``needs_review``, only for operators."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_session
from cloud.db.models import Mail, Rendition, Session, utcnow
from cloud.db.states import SessionState
from cloud.render.inputs import rendition_key
from tests.cloud.api.conftest import Booth

VIDEO = bytes(range(256)) * 40


def _held(booth: Booth, sid: str = "sheld", email: str | None = "ana@example.com") -> None:
    booth.storage.put(rendition_key(sid, "wave-party"), VIDEO, "video/mp4")
    with transaction(session_factory(booth.engine)) as db:
        row = ensure_session(db, "booth1", sid, SessionState.NEEDS_REVIEW)
        row.email, row.consent, row.error = email, True, "needs review: SSIM 0.20 < 0.50"
        db.add(
            Rendition(
                session_id=sid,
                video_key=rendition_key(sid, "wave-party"),
                dance="wave-party",
                held_out_ssim=0.2,
                review_reasons="SSIM 0.20 < 0.50",
            )
        )


def _state(booth: Booth, sid: str) -> tuple[SessionState, str | None]:
    with session_factory(booth.engine)() as db:
        row = db.get(Session, sid)
        assert row is not None
        return row.state, row.error


def _outbox(booth: Booth) -> list[Path]:
    mail = booth.settings.mail
    assert mail.type == "outbox"
    return sorted(mail.directory.glob("*.eml")) if mail.directory.exists() else []


def test_operator_previews_the_held_video_with_byte_ranges(
    operator: TestClient, client: TestClient, booth: Booth
) -> None:
    _held(booth)
    url = "/api/renditions/sheld/video.mp4"
    assert client.get(url).status_code == 401  # the visitor's side has no link yet
    whole = operator.get(url)
    assert whole.status_code == 200 and whole.content == VIDEO
    part = operator.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == VIDEO[10:20]
    assert operator.get("/api/renditions/snone/video.mp4").status_code == 404


def test_approve_issues_the_link_emails_it_and_delivers(
    operator: TestClient, client: TestClient, booth: Booth
) -> None:
    _held(booth)
    assert (
        client.post(
            "/api/renditions/sheld/review",
            json={"decision": "approve"},
            headers={"X-Dancebooth": "1"},
        ).status_code
        == 401
    )
    assert _outbox(booth) == []
    r = operator.post("/api/renditions/sheld/review", json={"decision": "approve"})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "id": "sheld",
        "state": "delivered",
        "mail": "sent",
        "detail": r.json()["detail"],
    }
    assert _state(booth, "sheld") == (SessionState.DELIVERED, None)
    (mail,) = _outbox(booth)
    text = mail.read_text()
    assert "ana@example.com" in text
    token = text.split("/r/", 1)[1].split()[0].split("#")[0].rstrip(".")
    page = client.get(f"/r/{token}")
    assert page.status_code == 200  # the emailed link opens the video
    with session_factory(booth.engine)() as db:
        row = db.get(Rendition, "sheld")
        assert row is not None and row.token_digest and row.expires_at and row.emailed_at
    again = operator.post("/api/renditions/sheld/review", json={"decision": "approve"})
    assert again.status_code == 409 and "not needs_review" in again.json()["detail"]
    assert len(_outbox(booth)) == 1  # no second email


def test_approve_refuses_when_the_video_is_gone(operator: TestClient, booth: Booth) -> None:
    _held(booth)
    booth.storage.delete(rendition_key("sheld", "wave-party"))
    r = operator.post("/api/renditions/sheld/review", json={"decision": "approve"})
    assert r.status_code == 409 and "missing" in r.json()["detail"]
    assert _state(booth, "sheld")[0] is SessionState.NEEDS_REVIEW  # nothing half-done
    assert _outbox(booth) == []


def test_retake_puts_the_visitor_back_in_line(operator: TestClient, booth: Booth) -> None:
    _held(booth)
    r = operator.post(
        "/api/renditions/sheld/review", json={"decision": "retake", "reason": "blurry"}
    )
    assert r.status_code == 200 and r.json()["state"] == "retake"
    state, error = _state(booth, "sheld")
    assert state is SessionState.RETAKE and error and "blurry" in error
    assert operator.post("/api/booth/capture", json={"session_id": "sheld"}).status_code == 200
    assert _outbox(booth) == []


def test_reject_needs_a_reason_and_fails_the_session(operator: TestClient, booth: Booth) -> None:
    _held(booth)
    no_reason = operator.post("/api/renditions/sheld/review", json={"decision": "reject"})
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    bad = operator.post("/api/renditions/sheld/review", json={"decision": "maybe"})
    assert bad.status_code == 422
    r = operator.post(
        "/api/renditions/sheld/review", json={"decision": "reject", "reason": "face garbled"}
    )
    assert r.status_code == 200 and r.json()["state"] == "failed"
    assert _state(booth, "sheld") == (SessionState.FAILED, "rejected after review: face garbled")
    assert _outbox(booth) == []


@pytest.mark.parametrize("decision", ["approve", "retake", "reject"])
def test_only_a_held_rendition_can_be_reviewed(
    operator: TestClient, booth: Booth, decision: str
) -> None:
    with transaction(session_factory(booth.engine)) as db:
        ensure_session(db, "booth1", "sbusy", SessionState.TRAINING)
    body = {"decision": decision, "reason": "x"}
    assert operator.post("/api/renditions/sbusy/review", json=body).status_code == 409
    assert operator.post("/api/renditions/snone/review", json=body).status_code == 404
    with session_factory(booth.engine)() as db:
        assert (
            db.scalar(select(Session.state).where(Session.id == "sbusy")) is SessionState.TRAINING
        )


def test_a_video_removed_by_retention_is_not_re_sent(operator: TestClient, booth: Booth) -> None:
    _held(booth)
    assert (
        operator.post("/api/renditions/sheld/review", json={"decision": "approve"}).status_code
        == 200
    )
    with transaction(session_factory(booth.engine)) as db:
        row = db.get(Session, "sheld")
        assert row is not None
        row.rendition_deleted_at = utcnow()
    r = operator.post("/api/renditions/sheld/resend")
    assert r.status_code == 409 and "removed" in r.json()["detail"]


def test_delete_my_data_purges_the_visitors_emails(
    operator: TestClient, client: TestClient, booth: Booth
) -> None:
    _held(booth)
    _held(booth, "sother", "ben@example.com")
    for sid in ("sheld", "sother"):
        r = operator.post(f"/api/renditions/{sid}/review", json={"decision": "approve"})
        assert r.status_code == 200, r.text
    mine = next(p for p in _outbox(booth) if "ana@example.com" in p.read_text())
    token = mine.read_text().split("/r/", 1)[1].split()[0].split("#")[0].rstrip(".")
    r = client.post(f"/r/{token}/delete", headers={"X-Dancebooth": "1"})
    assert r.status_code == 200, r.text
    left = [p.read_text() for p in _outbox(booth)]
    assert len(left) == 1 and "ben@example.com" in left[0]  # only the other visitor's
    assert not any("ana@example.com" in text or token in text for text in left)
    with session_factory(booth.engine)() as db:
        assert db.scalars(select(Mail).where(Mail.session_id == "sheld")).all() == []
        assert db.scalars(select(Mail).where(Mail.session_id == "sother")).all() != []


def test_the_review_dialog_gets_the_gates_figures_limits_reasons_and_strip(
    operator: TestClient, client: TestClient, booth: Booth
) -> None:
    import json

    from cloud.jobs.pipeline import report_key, strip_key

    _held(booth)
    with transaction(session_factory(booth.engine)) as db:
        row = db.get(Rendition, "sheld")
        assert row is not None
        row.dancer_missing, row.pose_error = 0.75, 0.9
        row.review_reasons = "no dancer found in 75% of the checked frames (maximum 25%); x"
    checks = {
        "pose": {"frames": 24, "missing": 0.75, "mean_error": 0.9, "parts": {"legs": 1.2}},
        "appearance": {"parts": {"torso": 0.3}, "drift": {"torso": 0.05}},
    }
    booth.storage.put(report_key("sheld"), json.dumps({"checks": checks}).encode())
    url = "/api/renditions/sheld/checks"
    assert client.get(url).status_code == 401
    assert operator.get("/api/renditions/sheld/strip.jpg").status_code == 404
    got = operator.get(url).json()
    assert got["reasons"][0].startswith("no dancer found in 75%") and len(got["reasons"]) == 2
    assert got["figures"]["dancer_missing"] == 0.75 and got["figures"]["held_out_ssim"] == 0.2
    assert got["limits"]["max_missing"] == booth.settings.render.quality.max_missing
    assert got["pose_parts"] == {"legs": 1.2} and got["look_parts"] == {"torso": 0.3}
    assert got["checked_frames"] == 24 and got["strip"] is False
    booth.storage.put(strip_key("sheld"), b"\xff\xd8jpeg", "image/jpeg")
    assert operator.get(url).json()["strip"] is True
    strip = operator.get("/api/renditions/sheld/strip.jpg")
    assert strip.status_code == 200 and strip.headers["content-type"] == "image/jpeg"
    assert operator.get("/api/renditions/nobody/checks").status_code == 404
