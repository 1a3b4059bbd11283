"""The worker's handling of a step that hands the session to a person (StepHeldError)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_session
from cloud.db.models import Job, JobState, Session
from cloud.db.states import SessionState
from cloud.jobs.queue import JobQueue
from cloud.jobs.worker import Step, StepContext, StepHeldError, Worker


class Train(Step):
    name, session_state = "finetune", SessionState.TRAINING

    def run(self, ctx: StepContext) -> str | None:
        return None


class Hold(Step):
    name, session_state = "deliver", SessionState.RENDERING
    done_state = SessionState.DELIVERED

    def run(self, ctx: StepContext) -> str | None:
        raise StepHeldError("needs review: SSIM 0.20 < 0.50", SessionState.NEEDS_REVIEW)


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_held_step_ends_the_job_and_parks_the_session(engine: Engine) -> None:
    factory = session_factory(engine)
    with transaction(factory) as db:
        ensure_session(db, "booth1", "s1", SessionState.UPLOADED)
    queue = JobQueue(factory)
    job = queue.enqueue("s1", "finetune")
    assert Worker(queue, {"finetune": [Train(), Hold()]}, "w1", heartbeat_s=0.2).run_once()
    with factory() as db:
        done = db.get(Job, job.id)
        assert done is not None and done.state is JobState.SUCCEEDED and done.attempts == 1
        session = db.get(Session, "s1")
        assert session is not None and session.state is SessionState.NEEDS_REVIEW
        assert session.error == "needs review: SSIM 0.20 < 0.50"
    assert queue.claim("w2") is None  # not retried: a person decides now


class Upload(Step):
    name, done_state = "upload", SessionState.UPLOADED

    def run(self, ctx: StepContext) -> str | None:
        return None


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_step_states_go_through_the_lifecycle_and_get_their_stamps(engine: Engine) -> None:
    factory = session_factory(engine)
    with transaction(factory) as db:
        ensure_session(db, "booth1", "s1", SessionState.CAPTURING)
    queue = JobQueue(factory)
    queue.enqueue("s1", "ingest", queue_session=False)
    assert Worker(queue, {"ingest": [Upload()]}, "w1", heartbeat_s=0.2).run_once()
    with factory() as db:
        session = db.get(Session, "s1")
        assert session is not None and session.state is SessionState.UPLOADED
        assert session.uploaded_at is not None  # the lifecycle's stamp


def test_only_the_lifecycle_writes_a_session_state() -> None:
    """One way to change a session's state: no other module updates the column."""
    root = Path(__file__).resolve().parents[2] / "cloud"
    writers = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if re.search(r"update\(Session(Row)?\)|\.state\s*=\s*SessionState", path.read_text())
    ]
    assert writers == ["db/lifecycle.py"]
