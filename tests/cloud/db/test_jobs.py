"""Job leases on SQLite and PostgreSQL: claims never collide, expired leases are taken
over with the checkpoint kept, attempts are capped."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import Engine, update

from cloud.db.engine import session_factory, transaction
from cloud.db.jobs import claim_job, finish_job, heartbeat
from cloud.db.lifecycle import ensure_session
from cloud.db.models import Job, JobState, utcnow
from cloud.db.states import SessionState


def _jobs(engine: Engine, n: int, max_attempts: int = 3) -> None:
    factory = session_factory(engine)
    with transaction(factory) as db:
        ensure_session(db, "booth1", "s1", SessionState.UPLOADED)
        for _ in range(n):
            db.add(Job(session_id="s1", kind="finetune", max_attempts=max_attempts))


def test_concurrent_workers_never_share_a_job(engine: Engine) -> None:
    _jobs(engine, 12)
    factory = session_factory(engine)
    claimed: list[int] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while (job := claim_job(factory, name)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 12


def test_expired_lease_is_taken_over_and_keeps_the_checkpoint(engine: Engine) -> None:
    _jobs(engine, 1, max_attempts=2)
    factory = session_factory(engine)
    job = claim_job(factory, "dead-worker", lease_s=60)
    assert job is not None and job.attempts == 1
    assert heartbeat(factory, job.id, "dead-worker", progress=0.4, checkpoint_key="ck/1")
    assert claim_job(factory, "w2") is None  # lease still valid
    with transaction(factory) as db:  # the worker dies: its lease runs out
        db.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    again = claim_job(factory, "w2")
    assert again is not None and again.id == job.id and again.attempts == 2
    assert again.checkpoint_key == "ck/1" and again.progress == 0.4
    assert not heartbeat(factory, job.id, "dead-worker")  # it lost the lease
    assert finish_job(factory, job.id, "w2", error="boom")  # no attempts left
    with factory() as db:
        final = db.get(Job, job.id)
        assert final is not None and final.state is JobState.FAILED and final.error == "boom"
    assert claim_job(factory, "w3") is None


def test_failure_with_attempts_left_requeues(engine: Engine) -> None:
    _jobs(engine, 1)
    factory = session_factory(engine)
    job = claim_job(factory, "w1")
    assert job is not None
    assert finish_job(factory, job.id, "w1", error="transient")
    job = claim_job(factory, "w1")
    assert job is not None and job.attempts == 2
    assert finish_job(factory, job.id, "w1")
    with factory() as db:
        done = db.get(Job, job.id)
        assert done is not None and done.state is JobState.SUCCEEDED and done.progress == 1.0
