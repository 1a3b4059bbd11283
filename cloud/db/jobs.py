"""Leasing jobs to workers: claim, heartbeat, finish.

A job is claimable when it is ``queued``, or ``running`` under a lease that expired
(its worker died), and it has attempts left. PostgreSQL picks the candidate with
``SELECT ... FOR UPDATE SKIP LOCKED`` so concurrent workers never wait on or take the
same row; SQLite serialises writers (``BEGIN IMMEDIATE``) and the claim is one
``UPDATE ... WHERE`` that re-checks claimability, so a lost race changes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.engine import transaction
from cloud.db.models import Job, JobState, utcnow

logger = logging.getLogger(__name__)


def _claimable(now: datetime) -> ColumnElement[bool]:
    expired = and_(Job.state == JobState.RUNNING, Job.lease_expires_at < now)
    return and_(or_(Job.state == JobState.QUEUED, expired), Job.attempts < Job.max_attempts)


def claim_job(
    factory: sessionmaker[Db], owner: str, lease_s: float = 60.0, kinds: list[str] | None = None
) -> Job | None:
    """Lease the oldest claimable job to ``owner``; None if there is none."""
    now = utcnow()
    with transaction(factory) as db:
        query = select(Job.id).where(_claimable(now)).order_by(Job.created_at, Job.id).limit(1)
        if kinds:
            query = query.where(Job.kind.in_(kinds))
        if db.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        job_id = db.scalar(query)
        if job_id is None:
            return None
        claimed = db.execute(
            update(Job)
            .where(Job.id == job_id, _claimable(now))
            .values(
                state=JobState.RUNNING,
                lease_owner=owner,
                attempts=Job.attempts + 1,
                lease_expires_at=now + timedelta(seconds=lease_s),
                heartbeat_at=now,
                started_at=now,
                updated_at=now,
                error=None,
            )
            .execution_options(synchronize_session=False)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return None
        job = db.get(Job, job_id, populate_existing=True)
    logger.info("job %s (%s) leased to %s", job_id, job.kind if job else "?", owner)
    return job


def heartbeat(
    factory: sessionmaker[Db],
    job_id: int,
    owner: str,
    lease_s: float = 60.0,
    progress: float | None = None,
    eta_s: float | None = None,
    checkpoint_key: str | None = None,
) -> bool:
    """Extend the lease and record progress; False if ``owner`` no longer holds the job
    (it expired and another worker took it, or it was cancelled): stop working on it."""
    now = utcnow()
    values: dict[str, object] = {
        "heartbeat_at": now,
        "updated_at": now,
        "lease_expires_at": now + timedelta(seconds=lease_s),
    }
    if progress is not None:
        values["progress"] = min(1.0, max(0.0, progress))
    if eta_s is not None:
        values["eta_s"] = eta_s
    if checkpoint_key is not None:
        values["checkpoint_key"] = checkpoint_key
    with transaction(factory) as db:
        result = db.execute(
            update(Job)
            .where(Job.id == job_id, Job.lease_owner == owner, Job.state == JobState.RUNNING)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def finish_job(
    factory: sessionmaker[Db], job_id: int, owner: str, error: str | None = None
) -> bool:
    """Mark the job succeeded (or, with ``error``, failed if no attempts are left, else
    queued again); False if ``owner`` no longer holds it."""
    now = utcnow()
    with transaction(factory) as db:
        job = db.get(Job, job_id, with_for_update=True)
        if job is None or job.lease_owner != owner or job.state is not JobState.RUNNING:
            return False
        job.lease_owner, job.lease_expires_at, job.updated_at = None, None, now
        if error is None:
            job.state, job.progress, job.finished_at = JobState.SUCCEEDED, 1.0, now
        else:
            job.error = error[:2000]
            retry = job.attempts < job.max_attempts
            job.state = JobState.QUEUED if retry else JobState.FAILED
            job.finished_at = None if retry else now
    return True
