"""Timestamps in the API's JSON carry their UTC offset (the schema says ``date-time``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import transition
from cloud.db.states import SessionState
from cloud.jobs.queue import JobQueue
from tests.cloud.api.conftest import Booth


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    assert value.utcoffset() == timedelta(0), f"{text!r} has no UTC offset"
    return value


def test_visitor_and_job_timestamps_have_an_offset(
    client: TestClient, operator: TestClient, booth: Booth
) -> None:
    sid = client.post("/api/visitors", json={"email": "t@example.com", "consent": True}).json()[
        "id"
    ]
    with transaction(session_factory(booth.engine)) as db:
        transition(db, sid, SessionState.CAPTURING)
        transition(db, sid, SessionState.UPLOADED)
    JobQueue(session_factory(booth.engine)).enqueue(sid, "finetune")
    (visitor,) = operator.get("/api/visitors").json()
    assert _utc(visitor["created_at"]) <= _utc(visitor["updated_at"])
    assert visitor["job"] is not None and _utc(visitor["job"]["created_at"])
    (job,) = operator.get("/api/jobs").json()
    assert _utc(job["updated_at"]) >= _utc(job["created_at"])
