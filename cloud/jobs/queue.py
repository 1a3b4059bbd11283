"""The job queue in the database: leased claims, heartbeats, retries, cancellation, ETA.

Built on the lease primitives of :mod:`cloud.db.jobs` (claim with ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL / a conditional ``UPDATE`` on SQLite, heartbeat, finish),
this adds what the worker and the operator need around them: a job whose last
allowed attempt died with its lease is failed with the reason instead of staying
``running`` forever; failure, cancellation and retry keep the visitor's session
state in step; and the ETA of every queued job. Every write by the worker is
conditional on still owning the lease: a worker that lost its job (lease expired
and re-claimed, or cancelled) finds out at its next write.

A re-claimed job keeps ``step`` (the last step finished) and ``checkpoint_key``
(where that step left its state), so the next worker resumes instead of restarting.

QueueError
├── JobNotFoundError   no job with that id
└── JobStateError      the job is in a state that does not allow the request
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.engine import transaction
from cloud.db.jobs import claim_job, finish_job, heartbeat
from cloud.db.lifecycle import transition
from cloud.db.models import Job, JobState, utcnow
from cloud.db.states import SessionState

logger = logging.getLogger(__name__)

RECENT_JOBS = 20  # how many finished jobs the ETA averages over
DEFAULT_JOB_S = 600.0  # ETA guess before any job has finished


class QueueError(Exception):
    """A queue request that cannot be done."""


class JobNotFoundError(QueueError, LookupError):
    """No job with that id."""


class JobStateError(QueueError):
    """The job's state does not allow this (e.g. retrying a running job)."""


@dataclass(frozen=True)
class Lease:
    """What a worker holds while it runs a job."""

    job_id: int
    owner: str
    session_id: str
    kind: str
    attempt: int
    step: str | None  # last step finished by any attempt
    checkpoint_key: str | None


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; every timestamp we write is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class JobQueue:
    """The queue over one database; safe to share between threads."""

    def __init__(self, factory: sessionmaker[Db], lease_s: float = 60.0) -> None:
        self.factory = factory
        self.lease_s = lease_s

    # -- worker side ----------------------------------------------------------------
    def claim(self, owner: str, kinds: list[str] | None = None) -> Lease | None:
        """Claim the oldest claimable job for ``owner``; None when there is nothing to do."""
        with transaction(self.factory) as db:
            self._fail_exhausted(db)
        job = claim_job(self.factory, owner, self.lease_s, kinds)
        if job is None:
            return None
        return Lease(
            job.id, owner, job.session_id, job.kind, job.attempts, job.step, job.checkpoint_key
        )

    def _fail_exhausted(self, db: Db) -> None:
        """Jobs whose last allowed attempt died with its lease are failed, not re-claimed."""
        now = utcnow()
        dead = db.scalars(
            select(Job).where(
                Job.state == JobState.RUNNING,
                Job.lease_expires_at < now,
                Job.attempts >= Job.max_attempts,
            )
        ).all()
        for job in dead:
            reason = f"worker {job.lease_owner} stopped responding on attempt {job.attempts}"
            self._finish_failed(db, job, reason)

    def heartbeat(
        self, lease: Lease, progress: float | None = None, eta_s: float | None = None
    ) -> bool:
        """Renew the lease (and record progress); False if the job is no longer ours."""
        return heartbeat(
            self.factory,
            lease.job_id,
            lease.owner,
            self.lease_s,
            progress,
            None if eta_s is None else max(eta_s, 0.0),
        )

    def checkpoint(self, lease: Lease, step: str, checkpoint_key: str | None = None) -> bool:
        """Record that ``step`` finished (and where its state is); False if the job is lost."""
        values: dict[str, object] = {"step": step, "updated_at": utcnow()}
        if checkpoint_key is not None:
            values["checkpoint_key"] = checkpoint_key
        with transaction(self.factory) as db:
            return self._owned_update(db, lease, values)

    def save_checkpoint_key(self, lease: Lease, checkpoint_key: str) -> bool:
        """Record a mid-step checkpoint (e.g. a training checkpoint) for resume."""
        with transaction(self.factory) as db:
            return self._owned_update(db, lease, {"checkpoint_key": checkpoint_key})

    def still_owned(self, lease: Lease) -> bool:
        """True while the job is running under this lease (not cancelled, not re-claimed)."""
        with self.factory() as db:
            row = db.execute(
                select(Job.state, Job.lease_owner, Job.attempts).where(Job.id == lease.job_id)
            ).one_or_none()
        return row is not None and tuple(row) == (JobState.RUNNING, lease.owner, lease.attempt)

    def complete(self, lease: Lease) -> bool:
        done = finish_job(self.factory, lease.job_id, lease.owner)
        if done:
            logger.info("job %s succeeded", lease.job_id)
        return done

    def fail(self, lease: Lease, reason: str, final: bool = False) -> JobState | None:
        """A step raised: queue another attempt, or fail the job for good after the cap
        (or at once when ``final``: another attempt would give the same answer)."""
        if final:
            with transaction(self.factory) as db:
                self._owned_update(db, lease, {"max_attempts": lease.attempt})
        if not finish_job(self.factory, lease.job_id, lease.owner, error=reason):
            return None
        with transaction(self.factory) as db:
            job = db.get(Job, lease.job_id, with_for_update=True)
            assert job is not None
            if job.state is JobState.QUEUED:
                job.error = f"attempt {job.attempts}: {reason}"
                logger.warning(
                    "job %s attempt %s failed, will retry: %s", job.id, job.attempts, reason
                )
            else:
                self._finish_failed(db, job, reason)
            return job.state

    def release(self, lease: Lease) -> bool:
        """Give the job back (the worker is shutting down): queued again, the attempt not
        counted, its step and checkpoint kept for whoever claims it next."""
        values: dict[str, object] = {
            "state": JobState.QUEUED,
            "lease_owner": None,
            "lease_expires_at": None,
            "attempts": Job.attempts - 1,
            "updated_at": utcnow(),
        }
        with transaction(self.factory) as db:
            released = self._owned_update(db, lease, values)
        if released:
            logger.info("job %s released by %s", lease.job_id, lease.owner)
        return released

    def _finish_failed(self, db: Db, job: Job, reason: str) -> None:
        message = f"failed after {job.attempts} attempt(s): {reason}"
        job.state, job.error, job.finished_at = JobState.FAILED, message, utcnow()
        job.lease_owner = job.lease_expires_at = None
        transition(db, job.session_id, SessionState.FAILED, message, strict=False)
        logger.error("job %s %s", job.id, message)

    def _owned_update(self, db: Db, lease: Lease, values: dict[str, object]) -> bool:
        result = db.execute(
            update(Job)
            .where(
                Job.id == lease.job_id,
                Job.state == JobState.RUNNING,
                Job.lease_owner == lease.owner,
                Job.attempts == lease.attempt,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # -- operator side --------------------------------------------------------------
    def cancel(self, job_id: int, reason: str = "cancelled by the operator") -> Job:
        """Cancel a queued or running job; a running worker stops before its next step."""
        with transaction(self.factory) as db:
            job = _get(db, job_id)
            if job.state not in (JobState.QUEUED, JobState.RUNNING):
                raise JobStateError(
                    f"job {job_id} is {job.state}; only queued or running jobs can be cancelled"
                )
            job.state, job.error, job.finished_at = JobState.CANCELLED, reason, utcnow()
            job.lease_owner = job.lease_expires_at = None
            transition(db, job.session_id, SessionState.FAILED, reason, strict=False)
            return job

    def retry(self, job_id: int) -> Job:
        """Queue a failed or cancelled job again with fresh attempts (keeping its checkpoint)."""
        with transaction(self.factory) as db:
            job = _get(db, job_id)
            if job.state not in (JobState.FAILED, JobState.CANCELLED):
                raise JobStateError(
                    f"job {job_id} is {job.state}; only failed or cancelled jobs can be retried"
                )
            job.state, job.error, job.attempts, job.finished_at = JobState.QUEUED, None, 0, None
            job.progress, job.eta_s = 0.0, None
            transition(db, job.session_id, SessionState.QUEUED, strict=False)
            return job

    def enqueue(
        self, session_id: str, kind: str, max_attempts: int = 3, queue_session: bool = True
    ) -> Job:
        """Add a job; ``queue_session`` also shows the session as queued (not for a re-send)."""
        with transaction(self.factory) as db:
            job = Job(session_id=session_id, kind=kind, max_attempts=max_attempts)
            db.add(job)
            if queue_session:
                transition(db, session_id, SessionState.QUEUED, strict=False)
            db.flush()
            return job

    def estimates(self) -> dict[int, float]:
        """ETA in seconds for every queued job: position × recent mean duration ÷ workers."""
        with self.factory() as db:
            mean = self.mean_duration_s(db)
            workers = self.active_workers(db)
            queued = db.scalars(
                select(Job.id).where(Job.state == JobState.QUEUED).order_by(Job.created_at, Job.id)
            ).all()
        return {job_id: (pos + 1) * mean / workers for pos, job_id in enumerate(queued)}

    def mean_duration_s(self, db: Db) -> float:
        rows = db.execute(
            select(Job.started_at, Job.finished_at)
            .where(Job.state == JobState.SUCCEEDED, Job.started_at.is_not(None))
            .order_by(Job.finished_at.desc())
            .limit(RECENT_JOBS)
        ).all()
        spans = [
            (as_utc(end) - as_utc(start)).total_seconds() for start, end in rows if start and end
        ]
        return sum(spans) / len(spans) if spans else DEFAULT_JOB_S

    def active_workers(self, db: Db) -> int:
        owners = db.scalar(
            select(func.count(func.distinct(Job.lease_owner))).where(
                Job.state == JobState.RUNNING, Job.lease_expires_at > utcnow()
            )
        )
        return max(int(owners or 0), 1)


def _get(db: Db, job_id: int) -> Job:
    job = db.get(Job, job_id, with_for_update=True)
    if job is None:
        raise JobNotFoundError(f"no job {job_id}")
    return job
