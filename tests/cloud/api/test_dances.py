"""The Dances API: upload (streamed, checked), the add in the background, the report and
files, re-run, delete, the booth's rotation and the kiosk's choice; bad input is a clear
4xx that leaves nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.db.engine import session_factory, transaction
from cloud.db.models import Dance, Session, utcnow
from tests.cloud.api.conftest import Booth
from tests.cloud.api.dance_fixtures import FRAMES, wait_added

pytest.importorskip("av")

Op = tuple[TestClient, Booth]


def _video(tmp_path: Path) -> bytes:
    return (tmp_path / "Salsa Night.mp4").read_bytes()


def _upload(client: TestClient, name: str, body: bytes | Iterator[bytes], **headers: str):
    return client.post(
        "/api/dances",
        params={"name": name, "title": "Salsa night"},
        content=body,
        headers={"Content-Type": "video/mp4", **headers},
    )


def _nothing_left(booth: Booth, name: str, tmp_path: Path) -> None:
    with session_factory(booth.engine)() as db:
        assert db.get(Dance, name) is None
    assert not (tmp_path / "dances" / name).exists() or not any(
        (tmp_path / "dances" / name).iterdir()
    )
    assert not list(booth.storage.list_keys(f"dances/{name}/"))


def test_bad_uploads_are_refused_and_leave_nothing(dance_op: Op, tmp_path: Path) -> None:
    client, booth = dance_op
    video = _video(tmp_path)
    r = client.post(
        "/api/dances", params={"name": "x"}, content=video, headers={"Content-Type": "text/plain"}
    )
    assert r.status_code == 415 and "Content-Type" in r.json()["detail"]
    r = _upload(client, "notes", b"just some text, not a video at all" * 10)
    assert r.status_code == 415 and "not a video" in r.json()["detail"]
    _nothing_left(booth, "notes", tmp_path)
    big = video + b"\0" * 2_100_000
    r = _upload(client, "big", big)
    assert r.status_code == 413 and "max_upload_mb" in r.json()["detail"]
    r = _upload(client, "big", iter([big[i : i + 65536] for i in range(0, len(big), 65536)]))
    assert r.status_code == 413, r.text  # streamed without a length: counted as it arrives
    _nothing_left(booth, "big", tmp_path)
    assert _upload(client, "empty", b"").status_code == 422
    assert _upload(client, "bad name!", video).status_code == 422
    assert (
        client.post("/api/dances", content=video, headers={"Content-Type": "video/mp4"}).status_code
        == 422
    )
    r = _upload(client, "wave-party", video)
    assert r.status_code == 409 and "built-in" in r.json()["detail"]
    names = {d["name"] for d in client.get("/api/dances").json()}
    assert names == {"wave-party", "disco-steps", "spin-groove"}, "no half-added dance is listed"


def test_upload_adds_reports_enables_and_deletes(dance_op: Op, tmp_path: Path) -> None:
    client, booth = dance_op
    r = _upload(client, "salsa", _video(tmp_path))
    assert r.status_code == 202, r.text
    assert r.json()["status"] in ("adding", "ready")
    again = _upload(client, "salsa", _video(tmp_path))
    assert again.status_code == 409 and "exists" in again.json()["detail"]
    view = wait_added(client, "salsa")
    assert view["status"] == "ready", view
    assert view["available"] and view["frames"] == FRAMES and not view["forced"]
    assert view["report"]["dancer_found"] == 1.0 and view["report"]["reasons"] == []
    assert {"keypoints.csv", "video.mp4", "preview.mp4"} <= set(view["files"])
    assert view["title"] == "Salsa night"
    preview = client.get("/api/dances/salsa/files/preview.mp4", headers={"Range": "bytes=0-99"})
    assert preview.status_code == 206 and preview.content[4:8] == b"ftyp"
    csv = client.get("/api/dances/salsa/files/keypoints.csv")
    assert csv.status_code == 200 and csv.text.startswith("frame,nose_x")
    assert client.get("/api/dances/salsa/files/other.csv").status_code == 404
    assert client.get("/api/dances/wave-party/files/keypoints.csv").status_code == 200

    # Trimmed to 1 s: refused (too short) with reasons and hints; the stored version stays.
    assert client.post("/api/dances/salsa/add", json={"length_s": 1.0}).status_code == 202
    refused = wait_added(client, "salsa")
    assert refused["status"] == "refused" and refused["available"], refused
    assert refused["report"]["reasons"] and refused["report"]["hints"]
    assert refused["options"]["length_s"] == 1.0
    kept = client.post("/api/dances/salsa/add", json={"length_s": 1.0, "force": True})
    assert kept.status_code == 202
    forced = wait_added(client, "salsa")
    assert forced["status"] == "ready" and forced["forced"] and forced["frames"] == 30, forced
    assert list(booth.storage.list_keys("dances/salsa/v1/")) == []  # the old version went

    rot = client.put(
        "/api/booth/rotation", json={"mode": "order", "dances": ["salsa", "wave-party"]}
    )
    assert rot.status_code == 200, rot.text
    offered = client.get("/api/kiosk/dances").json()
    assert offered["choose"] and [d["name"] for d in offered["dances"]] == ["salsa", "wave-party"]
    r = client.delete("/api/dances/salsa")
    assert r.status_code == 409 and "disable it first" in r.json()["detail"]
    client.put("/api/booth/rotation", json={"mode": "order", "dances": ["wave-party"]})
    assert client.delete("/api/dances/wave-party").status_code == 409  # built in: kept
    r = client.delete("/api/dances/salsa")
    assert r.status_code == 200 and r.json()["objects"] >= 2
    _nothing_left(booth, "salsa", tmp_path)


def test_rotation_assigns_in_order_or_the_visitors_choice(dance_op: Op) -> None:
    client, booth = dance_op
    assert client.get("/api/booth/rotation").json() == {
        "mode": "order",
        "dances": ["wave-party"],
        "configured": False,
    }
    assert client.get("/api/kiosk/dances").json()["choose"] is False
    bad = client.put("/api/booth/rotation", json={"mode": "order", "dances": ["nope"]})
    assert bad.status_code == 409 and "no dance" in bad.json()["detail"]
    assert (
        client.put("/api/booth/rotation", json={"mode": "order", "dances": []}).status_code == 422
    )
    twice = client.put("/api/booth/rotation", json={"mode": "order", "dances": ["wave-party"] * 2})
    assert twice.status_code == 409
    ok = client.put(
        "/api/booth/rotation", json={"mode": "order", "dances": ["disco-steps", "spin-groove"]}
    )
    assert ok.status_code == 200
    kiosk = TestClient(booth.app)
    ids = []
    for i in range(3):
        r = kiosk.post("/api/visitors", json={"email": f"v{i}@example.com", "consent": True})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    chosen = kiosk.post(
        "/api/visitors", json={"email": "c@example.com", "consent": True, "dance": "spin-groove"}
    )
    assert chosen.status_code == 201
    refused = kiosk.post(
        "/api/visitors", json={"email": "d@example.com", "consent": True, "dance": "wave-party"}
    )
    assert refused.status_code == 409 and "disco-steps" in refused.json()["detail"]
    with session_factory(booth.engine)() as db:
        dances = {s.id: s.dance for s in db.scalars(select(Session))}
    assert [dances[i] for i in ids] == ["disco-steps", "spin-groove", "disco-steps"]
    assert dances[chosen.json()["id"]] == "spin-groove"
    client.put(
        "/api/booth/rotation", json={"mode": "random", "dances": ["disco-steps", "spin-groove"]}
    )
    r = kiosk.post("/api/visitors", json={"email": "r@example.com", "consent": True})
    with session_factory(booth.engine)() as db:
        assert db.get(Session, r.json()["id"]).dance in ("disco-steps", "spin-groove")


def test_a_failed_add_says_why_and_can_be_run_again(dance_op: Op, tmp_path: Path) -> None:
    client, _booth = dance_op
    (tmp_path / "short.mp4").write_bytes(_video(tmp_path)[:4000])  # a cut-off file
    r = _upload(client, "broken", (tmp_path / "short.mp4").read_bytes())
    assert r.status_code == 202, r.text
    view = wait_added(client, "broken")
    assert view["status"] == "failed" and view["error"], view
    assert not view["available"] and view["can_rerun"]
    assert client.post("/api/booth/rotation", json={}).status_code == 405
    bad = client.put("/api/booth/rotation", json={"mode": "order", "dances": ["broken"]})
    assert bad.status_code == 409 and "no stored version" in bad.json()["detail"]
    assert client.post("/api/dances/broken/add", json={"length_s": 0}).status_code == 422
    assert client.post("/api/dances/wave-party/add", json={}).status_code == 409
    assert client.post("/api/dances/nothing/add", json={}).status_code == 404
    assert client.delete("/api/dances/broken").status_code == 200


def test_an_add_or_upload_whose_api_stopped_shows_stalled_and_can_go(dance_op: Op) -> None:
    client, booth = dance_op
    long_ago = utcnow() - timedelta(hours=2)
    with transaction(session_factory(booth.engine)) as db:
        db.add(Dance(name="halfway", upload=None, updated_at=long_ago, runner="elsewhere"))
        db.add(Dance(name="fresh", upload=None, runner="elsewhere"))
    assert client.get("/api/dances/halfway").json()["status"] == "stalled"
    assert client.get("/api/dances/fresh").json()["status"] == "uploading"
    assert client.delete("/api/dances/fresh").status_code == 409  # still arriving
    assert client.delete("/api/dances/halfway").status_code == 200
