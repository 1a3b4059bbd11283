"""The live mirror's lineup through the API: the kiosk's extra consent, the operator's
"dance as …" (and rotation) among delivered visitors who agreed, refusals that say why,
and a deletion taking the visitor off at once — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from cloud.db.engine import session_factory, transaction
from cloud.db.models import Session, utcnow
from cloud.db.states import SessionState
from cloud.mirror.lineup import Lineup
from tests.cloud.api.conftest import Booth


def _visitor(client: TestClient, email: str, live: bool) -> str:
    body = {"email": email, "consent": True, "mirror_consent": live}
    r = client.post("/api/visitors", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _deliver(booth: Booth, sid: str) -> None:
    with transaction(session_factory(booth.engine)) as db:
        row = db.get(Session, sid)
        assert row is not None
        row.state, row.delivered_at = SessionState.DELIVERED, utcnow()


def test_kiosk_consent_lasts_the_configured_hours(client: TestClient, booth: Booth) -> None:
    sid = _visitor(client, "ana@example.com", live=True)
    plain = _visitor(client, "bo@example.com", live=False)
    with session_factory(booth.engine)() as db:
        ana, bo = db.get(Session, sid), db.get(Session, plain)
        assert ana is not None and bo is not None
        assert ana.mirror_consent_until is not None and bo.mirror_consent_until is None
        left = ana.mirror_consent_until - utcnow()
        hours = booth.settings.mirror.consent_hours
        assert timedelta(hours=hours) - timedelta(minutes=1) < left <= timedelta(hours=hours)


def test_operator_picks_a_consenting_delivered_visitor_and_the_mirror_sees_it(
    client: TestClient, operator: TestClient, booth: Booth
) -> None:
    ana = _visitor(client, "ana@example.com", live=True)
    bo = _visitor(client, "bo@example.com", live=False)
    cy = _visitor(client, "cy@example.com", live=True)  # agreed, not delivered yet
    for sid in (ana, bo):
        _deliver(booth, sid)
    view = operator.get("/api/booth/mirror").json()
    assert view["wearers"] == [] and [c["session_id"] for c in view["candidates"]] == [ana]
    r = operator.put("/api/booth/mirror", json={"wearers": [bo]})
    assert r.status_code == 409 and "did not agree" in r.json()["detail"]
    r = operator.put("/api/booth/mirror", json={"wearers": [cy]})
    assert r.status_code == 409 and "not delivered yet" in r.json()["detail"]
    r = operator.put("/api/booth/mirror", json={"wearers": [ana, ana]})
    assert r.status_code == 200, r.text
    assert r.json()["wearers"] == [ana]
    mirror = Lineup(session_factory(booth.engine), "booth1", "node1")
    (wearer,) = mirror.wanted()
    assert wearer.session_id == ana and wearer.key.endswith(f"{ana}/model/best.safetensors")
    # What the mirror reports shows on the dashboard, and goes stale when it stops.
    mirror.report("pix2pix-128-abc", ana, None)
    (shown,) = operator.get("/api/booth/mirror").json()["mirrors"]
    assert shown["session_id"] == ana and not shown["stale"] and shown["node"] == "node1"
    # Back to the booth's own dancer.
    assert operator.put("/api/booth/mirror", json={"wearers": []}).json()["wearers"] == []
    assert mirror.wanted() == []


def test_deleted_or_expired_visitors_leave_the_lineup_at_once(
    client: TestClient, operator: TestClient, booth: Booth
) -> None:
    ana = _visitor(client, "ana@example.com", live=True)
    cy = _visitor(client, "cy@example.com", live=True)
    for sid in (ana, cy):
        _deliver(booth, sid)
    assert operator.put("/api/booth/mirror", json={"wearers": [ana, cy]}).status_code == 200
    mirror = Lineup(session_factory(booth.engine), "booth1", "node1")
    assert [w.session_id for w in mirror.wanted()] == [ana, cy]
    assert operator.delete(f"/api/visitors/{ana}").status_code == 200
    assert [w.session_id for w in mirror.wanted()] == [cy]
    with transaction(session_factory(booth.engine)) as db:
        row = db.get(Session, cy)
        assert row is not None
        row.mirror_consent_until = utcnow() - timedelta(seconds=1)
    assert mirror.wanted() == []
    view = operator.get("/api/booth/mirror").json()
    assert view["wearers"] == [] and view["candidates"] == []


def test_the_lineup_needs_an_operator_and_well_formed_ids(
    client: TestClient, operator: TestClient
) -> None:
    assert client.get("/api/booth/mirror").status_code == 401
    assert client.put("/api/booth/mirror", json={"wearers": []}).status_code in (401, 403)
    r = operator.put("/api/booth/mirror", json={"wearers": ["../etc"]})
    assert r.status_code == 422
    r = operator.put("/api/booth/mirror", json={"wearers": "ana"})
    assert r.status_code == 422
    r = operator.put("/api/booth/mirror", json={"wearers": ["nobody-here"]})
    assert r.status_code == 409 and "no such visitor" in r.json()["detail"]
