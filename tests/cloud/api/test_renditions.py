"""The visitor's rendition link: page, seekable video, expiry, delete-my-data."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_session
from cloud.db.models import Rendition, Session, utcnow
from cloud.db.states import SessionState
from cloud.delivery.tokens import issue_token
from cloud.jobs.pipeline import model_key
from cloud.render.inputs import rendition_key
from tests.cloud.api.conftest import Booth

VIDEO = bytes(range(256)) * 40  # stands in for the MP4: serving never looks inside


def _delivered(booth: Booth, sid: str = "sdone", ttl: timedelta = timedelta(days=1)) -> str:
    token = issue_token(ttl)
    booth.storage.put(rendition_key(sid, "wave-party"), VIDEO, "video/mp4")
    booth.storage.put(model_key(sid, "best.safetensors"), b"weights")
    with transaction(session_factory(booth.engine)) as db:
        row = ensure_session(db, "booth1", sid, SessionState.DELIVERED)
        row.email, row.consent = "ana@example.com", True
        db.add(
            Rendition(
                session_id=sid,
                video_key=rendition_key(sid, "wave-party"),
                dance="wave-party",
                token_digest=token.digest,
                expires_at=token.expires_at,
                emailed_at=utcnow(),
            )
        )
    return token.token


def test_link_opens_the_page_and_the_video_seeks(client: TestClient, booth: Booth) -> None:
    token = _delivered(booth)
    page = client.get(f"/r/{token}")
    assert page.status_code == 200 and f"/r/{token}/video.mp4" in page.text
    assert 'id="delete"' in page.text
    whole = client.get(f"/r/{token}/video.mp4")
    assert whole.status_code == 200 and whole.content == VIDEO
    part = client.get(f"/r/{token}/video.mp4", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == VIDEO[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(VIDEO)}"
    bad = client.get(f"/r/{token}/video.mp4", headers={"Range": f"bytes={len(VIDEO)}-"})
    assert bad.status_code == 416


def test_unknown_and_expired_links(client: TestClient, booth: Booth) -> None:
    assert client.get("/r/" + "A" * 43).status_code == 404
    assert client.get("/r/short").status_code == 422
    expired = _delivered(booth, "sold", ttl=timedelta(seconds=1))
    with transaction(session_factory(booth.engine)) as db:
        row = db.get(Rendition, "sold")
        assert row is not None
        row.expires_at = utcnow() - timedelta(minutes=1)
    r = client.get(f"/r/{expired}")
    assert r.status_code == 410 and "expired" in r.json()["detail"]


def test_delete_my_data_erases_rows_and_objects(client: TestClient, booth: Booth) -> None:
    token = _delivered(booth)
    r = client.post(f"/r/{token}/delete")
    assert r.status_code == 200 and r.json()["state"] == "deleted"
    assert list(booth.storage.list_keys("sessions/sdone/")) == []
    with session_factory(booth.engine)() as db:
        assert db.scalar(select(Session.email).where(Session.id == "sdone")) is None
        assert db.get(Rendition, "sdone") is None
    assert client.get(f"/r/{token}").status_code == 404


def test_operator_delete_removes_stored_objects(operator: TestClient, booth: Booth) -> None:
    _delivered(booth, "sop")
    assert operator.delete("/api/visitors/sop").status_code == 200
    assert list(booth.storage.list_keys("sessions/sop/")) == []
