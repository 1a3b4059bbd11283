"""The job queue on SQLite and PostgreSQL: leases, races, resume, retries, cancel, ETA."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_session
from cloud.db.models import Job, JobState, Session, utcnow
from cloud.db.states import SessionState
from cloud.jobs.queue import JobQueue, JobStateError, Lease
from cloud.jobs.worker import Worker
from tests.cloud.steps import CancelDuringStep, FailingStep, InterruptedStep, JournalStep
from tests.services import REPO


def _sessions(engine: Engine, n: int, state: SessionState = SessionState.UPLOADED) -> list[str]:
    ids = [f"s{i:04d}" for i in range(n)]
    with transaction(session_factory(engine)) as db:
        for sid in ids:
            ensure_session(db, "booth1", sid, state)
    return ids


def _queue(engine: Engine, lease_s: float = 30.0) -> JobQueue:
    return JobQueue(session_factory(engine), lease_s=lease_s)


def _job(engine: Engine, job_id: int) -> Job:
    with session_factory(engine)() as db:
        job = db.get(Job, job_id)
        assert job is not None
        return job


def test_claim_heartbeat_complete(engine: Engine) -> None:
    (sid,) = _sessions(engine, 1)
    queue = _queue(engine)
    job = queue.enqueue(sid, "finetune")
    lease = queue.claim("w1")
    assert lease is not None and lease.job_id == job.id and lease.attempt == 1
    assert queue.claim("w2") is None, "a leased job must not be handed out twice"
    assert queue.heartbeat(lease, progress=0.4, eta_s=12)
    assert _job(engine, job.id).progress == pytest.approx(0.4)
    assert queue.complete(lease)
    assert _job(engine, job.id).state is JobState.SUCCEEDED
    assert not queue.heartbeat(lease), "a finished job's lease cannot be renewed"


def test_many_workers_never_share_a_job(engine: Engine) -> None:
    sids = _sessions(engine, 30)
    queue = _queue(engine)
    for sid in sids:
        queue.enqueue(sid, "finetune")
    claimed: list[tuple[str, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)
    errors: list[Exception] = []

    def claimer(name: str) -> None:
        barrier.wait()
        try:
            while (lease := queue.claim(name)) is not None:
                with lock:
                    claimed.append((name, lease.job_id))
                time.sleep(0.01)  # "work", so the other workers get their turn
        except Exception as exc:  # surfaced below: a thread's exception would vanish
            errors.append(exc)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    ids = [job_id for _, job_id in claimed]
    assert len(ids) == 30 and len(set(ids)) == 30, "every job claimed exactly once"
    assert len({name for name, _ in claimed}) > 1, "the claims were really concurrent"


def test_killed_worker_job_resumes_from_checkpoint(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    (sid,) = _sessions(engine, 1)
    queue = _queue(engine, lease_s=1.0)
    job = queue.enqueue(sid, "finetune")
    journal, started = tmp_path / "journal", tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.cloud.steps", db_url, str(journal), str(started)],
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "worker never started"
            time.sleep(0.05)
        proc.kill()  # mid-job: the render step is running
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert queue.claim("survivor") is None, "the dead worker's lease has not expired yet"
    time.sleep(1.2)
    steps = [JournalStep("finetune", journal), JournalStep("render", journal)]
    assert Worker(queue, {"finetune": steps}, name="survivor", heartbeat_s=0.1).run_once()
    done = _job(engine, job.id)
    assert done.state is JobState.SUCCEEDED and done.attempts == 2
    lines = journal.read_text().splitlines()
    # finetune ran once (by the killed worker); render resumed with its checkpoint.
    assert lines == [f"{sid} finetune None", f"{sid} render ckpt/{sid}/finetune"]


def test_retries_then_fails_with_reason(engine: Engine, tmp_path: Path) -> None:
    (sid,) = _sessions(engine, 1)
    queue = _queue(engine)
    job = queue.enqueue(sid, "finetune", max_attempts=2)
    worker = Worker(queue, {"finetune": [FailingStep()]}, name="w", heartbeat_s=0.1)
    assert worker.run_once() and _job(engine, job.id).state is JobState.QUEUED
    assert worker.run_once()
    failed = _job(engine, job.id)
    assert failed.state is JobState.FAILED and failed.attempts == 2
    assert failed.error is not None and "the GPU caught fire" in failed.error
    with session_factory(engine)() as db:
        session = db.get(Session, sid)
        assert session is not None and session.state is SessionState.FAILED
        assert session.error is not None and "GPU caught fire" in session.error
    assert not worker.run_once(), "a failed job is not claimed again"
    queue.retry(job.id)
    assert _job(engine, job.id).state is JobState.QUEUED


def test_expired_last_attempt_fails_instead_of_looping(engine: Engine) -> None:
    (sid,) = _sessions(engine, 1)
    queue = _queue(engine, lease_s=0.05)
    job = queue.enqueue(sid, "finetune", max_attempts=1)
    assert queue.claim("dies") is not None
    time.sleep(0.1)
    assert queue.claim("next") is None
    failed = _job(engine, job.id)
    assert failed.state is JobState.FAILED and "stopped responding" in (failed.error or "")


def test_cancel_is_honoured_between_steps(engine: Engine, tmp_path: Path) -> None:
    (sid,) = _sessions(engine, 1)
    queue = _queue(engine)
    job = queue.enqueue(sid, "finetune")
    journal = tmp_path / "journal"
    steps = [CancelDuringStep(), JournalStep("render", journal)]
    Worker(queue, {"finetune": steps}, name="w", heartbeat_s=0.1).run_once()
    assert not journal.exists(), "no step runs after the job was cancelled"
    assert _job(engine, job.id).state is JobState.CANCELLED
    with pytest.raises(JobStateError, match="only queued or running"):
        queue.cancel(job.id)


def test_session_follows_the_steps(engine: Engine, tmp_path: Path) -> None:
    (sid,) = _sessions(engine, 1)
    queue = _queue(engine)
    queue.enqueue(sid, "finetune")
    journal = tmp_path / "j"
    steps = [
        JournalStep("finetune", journal, SessionState.TRAINING),
        JournalStep("render", journal, SessionState.RENDERING, SessionState.NEEDS_REVIEW),
    ]
    Worker(queue, {"finetune": steps}, name="w", heartbeat_s=0.1).run_once()
    with session_factory(engine)() as db:
        assert (
            db.scalar(select(Session.state).where(Session.id == sid)) is SessionState.NEEDS_REVIEW
        )


def test_eta_is_position_times_recent_duration_over_workers(engine: Engine) -> None:
    sids = _sessions(engine, 5)
    queue = _queue(engine)
    jobs = [queue.enqueue(sid, "finetune") for sid in sids]
    now = utcnow()
    with transaction(session_factory(engine)) as db:  # two finished jobs of 100 s and 200 s
        for job, span in ((jobs[0], 100), (jobs[1], 200)):
            db.execute(
                update(Job)
                .where(Job.id == job.id)
                .values(
                    state=JobState.SUCCEEDED,
                    started_at=now - timedelta(seconds=span),
                    finished_at=now,
                )
            )
    lease: Lease | None = queue.claim("w1")
    assert lease is not None and lease.job_id == jobs[2].id
    eta = queue.estimates()
    assert eta == {jobs[3].id: pytest.approx(150.0), jobs[4].id: pytest.approx(300.0)}
    assert queue.claim("w2") is not None  # two live workers halve the wait
    assert queue.estimates() == {jobs[4].id: pytest.approx(75.0)}


def test_stopping_worker_gives_the_job_back(engine: Engine, tmp_path: Path) -> None:
    (sid,) = _sessions(engine, 1)
    queue = _queue(engine)
    job = queue.enqueue(sid, "finetune")
    steps = [JournalStep("finetune", tmp_path / "j"), InterruptedStep()]
    with pytest.raises(KeyboardInterrupt):
        Worker(queue, {"finetune": steps}, name="w", heartbeat_s=0.1).run_once()
    back = _job(engine, job.id)
    assert back.state is JobState.QUEUED and back.attempts == 0 and back.lease_owner is None
    assert back.step == "finetune", "the finished step is kept for the next worker"
    lease = queue.claim("w2")
    assert lease is not None and lease.step == "finetune"
