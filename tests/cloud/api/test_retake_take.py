"""A retake is a fresh capture under the same session: starting it removes the earlier
take's frames, shards, manifests and QA verdict; the retake's frames (numbered from 0
again) are stored, and the earlier take's late messages are dropped."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cloud.db.engine import session_factory, transaction
from cloud.db.models import CaptureQa, Frame, Manifest, Session, Shard
from cloud.ingest.frames import FrameStore
from cloud.ingest.ingestor import Incoming, Ingestor
from cloud.ingest.reader import iter_session_frames
from protocol.messages import CaptureManifest
from protocol.shards import session_prefix
from tests.cloud.api.conftest import Booth
from tests.cloud.ingest.conftest import BOOTH, TOPICS, frame_message, packet


def _frames(sid: str, seqs: range, start_at: float) -> list[Incoming]:
    out = []
    for seq in seqs:
        p = packet(seq, session=sid)
        p.capture_ns = round((start_at + seq / 30) * 1e9)
        out.append(frame_message(p))
    return out


def _manifest(sid: str, frames: int, start_at: float) -> Incoming:
    m = CaptureManifest(
        session=sid,
        node="node1",
        first_seq=0,
        last_seq=frames - 1,
        frame_count=frames,
        width=640,
        height=480,
        fps=30.0,
        started_at=start_at,
        ended_at=start_at + frames / 30,
    )
    return Incoming(TOPICS.manifest(BOOTH, "node1", sid), m.to_bytes())


def _count(booth: Booth, model: type, sid: str) -> int:
    with session_factory(booth.engine)() as db:
        where = model.session_id == sid  # type: ignore[attr-defined]
        return int(db.scalar(select(func.count()).select_from(model).where(where)) or 0)


def test_a_retake_replaces_the_earlier_take(
    booth: Booth, client: TestClient, operator: TestClient
) -> None:
    factory = session_factory(booth.engine)
    ingestor = Ingestor(BOOTH, TOPICS, FrameStore(booth.storage, factory), factory, 140_000)
    sid = client.post("/api/visitors", json={"email": "ana@example.com", "consent": True}).json()[
        "id"
    ]
    assert operator.post("/api/booth/capture", json={"session_id": sid}).status_code == 200
    first = time.time() - 30  # the first take, as if it was danced half a minute ago
    with transaction(factory) as db:
        row = db.get(Session, sid)
        assert row is not None
        row.capture_start_at = first
    ingestor.handle([*_frames(sid, range(90), first), _manifest(sid, 90, first)])
    with transaction(factory) as db:
        report = {"passed": False, "reasons": ["feet out of frame"], "nodes": []}
        db.add(CaptureQa(session_id=sid, passed=False, coverage=0.5, report=report))
    old_keys = list(booth.storage.list_keys(session_prefix(sid)))
    assert _count(booth, Frame, sid) == 90 and old_keys

    assert operator.post("/api/booth/retake", json={"session_id": sid}).status_code == 200
    started = operator.post("/api/booth/capture", json={"session_id": sid})
    assert started.status_code == 200, started.text
    for model in (Frame, Shard, Manifest, CaptureQa):
        assert _count(booth, model, sid) == 0, model.__name__
    assert not any(k in old_keys for k in booth.storage.list_keys(session_prefix(sid)))
    status = operator.get(f"/api/visitors/{sid}/status").json()
    assert status["state"] == "capturing" and status["retake_reasons"] == []
    assert operator.get("/api/booth/stage").json()["qa_passed"] is None  # not judged yet

    second = started.json()["start_at"]
    late = [*_frames(sid, range(85, 90), first), _manifest(sid, 90, first)]
    result = ingestor.handle([*_frames(sid, range(60), second), *late])
    assert result.frames.stored == 60 and result.frames.duplicates == 0
    assert result.dropped == 6  # the earlier take's late frames and manifest
    frames = list(iter_session_frames(booth.storage, factory, sid))
    assert [m.seq for m, _ in frames] == list(range(60))
    assert all(m.capture_ns >= second * 1e9 for m, _ in frames)
    assert _count(booth, Manifest, sid) == 0  # the retake's own comes when it ends
