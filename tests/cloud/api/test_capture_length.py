"""How long a capture lasts: a guided one the visitor's dance (capped at api.guided_max_s),
for the nodes' start command, the stage screen and the operator's countdown; a free one
api.capture_s."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cloud.api import create_app
from cloud.api.link import LocalBoothLink
from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_session
from cloud.db.models import Dance, DanceState
from cloud.db.states import SessionState
from cloud.settings import CloudSettings
from cloud.storage.local import LocalStorage
from protocol.messages import CaptureStart
from tests.cloud.api.conftest import CSRF, PASSWORD, Booth


def _guided(booth: Booth, tmp_path: Path) -> tuple[TestClient, LocalBoothLink]:
    api = {**booth.settings.api.model_dump(), "capture_mode": "guided", "guided_max_s": 30}
    settings = CloudSettings(database=booth.settings.database, mail=booth.settings.mail, api=api)
    link = LocalBoothLink()
    app = create_app(settings, engine=booth.engine, link=link, storage=LocalStorage(tmp_path))
    return TestClient(app), link


@pytest.fixture
def guided(booth: Booth, tmp_path: Path) -> Iterator[tuple[TestClient, LocalBoothLink]]:
    """An operator's client on the booth in guided mode, and the link its commands go to."""
    client, link = _guided(booth, tmp_path / "guided")
    with client:
        r = client.post(
            "/api/auth/login", json={"name": "alice", "password": PASSWORD}, headers=CSRF
        )
        assert r.status_code == 200, r.text
        client.headers.update(CSRF)
        yield client, link


def _visitor(engine: Engine, sid: str, dance: str, seconds: float | None = None) -> None:
    """A registered visitor who performs ``dance``; an added dance of ``seconds`` if given."""
    with transaction(session_factory(engine)) as db:
        if seconds is not None:
            meta = {"fps": 30.0, "frames": round(seconds * 30), "width": 640, "height": 480}
            db.add(Dance(name=dance, state=DanceState.READY, version=1, meta=meta))
        row = ensure_session(db, "booth1", sid, SessionState.REGISTERED)
        row.consent, row.dance = True, dance


def _start(client: TestClient, link: LocalBoothLink, sid: str) -> float:
    """Starts the capture; the length the nodes were told, checked against the answer,
    the stage screen's and the session's."""
    r = client.post("/api/booth/capture", json={"session_id": sid})
    assert r.status_code == 200, r.text
    sent = [m for _b, _c, m in link.sent if isinstance(m, CaptureStart) and m.session == sid]
    assert len(sent) == 1
    stage = client.get("/api/booth/stage").json()
    assert stage["session_id"] == sid
    assert r.json()["duration_s"] == sent[0].duration_s == stage["duration_s"]
    return sent[0].duration_s


def test_a_guided_capture_lasts_the_dance(
    booth: Booth, guided: tuple[TestClient, LocalBoothLink]
) -> None:
    _visitor(booth.engine, "s22", "long-22", 22.0)
    assert _start(*guided, "s22") == pytest.approx(22.0)


def test_a_built_in_dance_sets_the_length_too(
    booth: Booth, guided: tuple[TestClient, LocalBoothLink]
) -> None:
    _visitor(booth.engine, "sb", "spin-groove")  # 675 frames at 30 fps
    assert _start(*guided, "sb") == pytest.approx(22.5)


def test_a_longer_dance_is_capped(booth: Booth, guided: tuple[TestClient, LocalBoothLink]) -> None:
    _visitor(booth.engine, "s60", "long-60", 60.0)
    assert _start(*guided, "s60") == 30.0  # api.guided_max_s


def test_an_unknown_dance_falls_back_to_capture_s(
    booth: Booth, guided: tuple[TestClient, LocalBoothLink]
) -> None:
    _visitor(booth.engine, "sx", "gone-dance")
    assert _start(*guided, "sx") == 3.0  # the fixture's api.capture_s


def test_free_dance_keeps_the_configured_length(booth: Booth, operator: TestClient) -> None:
    _visitor(booth.engine, "sf", "long-22", 22.0)
    assert _start(operator, booth.link, "sf") == 3.0  # the fixture: free mode, capture_s 3


def test_the_kiosk_promises_the_longest_capture(
    booth: Booth, guided: tuple[TestClient, LocalBoothLink]
) -> None:
    page = guided[0].get("/").text
    assert "Dance for up to 30 seconds" in page and "records up to 30 seconds of video" in page


def test_the_operator_picks_guided_or_free_per_booth(
    booth: Booth, guided: tuple[TestClient, LocalBoothLink]
) -> None:
    client, link = guided
    assert client.get("/api/booth/settings").json()["capture_mode"] == "guided"  # deployment's
    r = client.put("/api/booth/settings", json={"capture_mode": "free"})
    assert r.status_code == 200 and r.json()["capture_mode"] == "free"
    assert r.json()["layout"] == "solo"  # the other settings kept
    _visitor(booth.engine, "sfree", "long-22", 22.0)
    assert _start(client, link, "sfree") == 3.0  # the booth's free dance: api.capture_s
    client.put("/api/booth/settings", json={"capture_mode": "guided"})
    _visitor(booth.engine, "sguided", "long-22")  # the same dance, already added
    assert _start(client, link, "sguided") == pytest.approx(22.0)
    assert client.put("/api/booth/settings", json={"capture_mode": "slow"}).status_code == 422
