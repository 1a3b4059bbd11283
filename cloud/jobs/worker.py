"""The worker: claims jobs and runs their steps (fine-tune → quality gate → render → deliver).

A job is a list of named :class:`Step` s; which list depends on the job's kind (a
``render`` job skips fine-tuning, a ``deliver`` job only re-sends the email). While a
step runs, a heartbeat thread keeps the lease alive and writes the step's progress
to the job row; between steps the worker records the step as finished (so a
re-claimed job resumes after it) and stops if the job was cancelled or re-claimed.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cloud.db.engine import transaction
from cloud.db.lifecycle import transition
from cloud.db.states import SessionState
from cloud.jobs.queue import JobQueue, Lease

logger = logging.getLogger(__name__)


class StepError(Exception):
    """A step could not do its work; the message is shown to the operator."""


class StepRejectedError(StepError):
    """The step ran and its answer is no (e.g. the quality gate): retrying cannot help."""


class StepHeldError(StepError):
    """The step's answer is "a person decides" (the quality gate held a rendition): the job
    ends and the session waits in ``state`` (e.g. ``needs_review``) for the operator."""

    def __init__(self, message: str, state: SessionState) -> None:
        super().__init__(message)
        self.state = state


class JobLostError(Exception):
    """The job was cancelled or claimed by another worker while this one ran it."""


@dataclass
class StepContext:
    """What a step gets: the session, where the previous attempt left off, and reporting."""

    lease: Lease
    checkpoint_key: str | None
    _queue: JobQueue
    _progress: float = 0.0
    _eta_s: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def session_id(self) -> str:
        return self.lease.session_id

    def report(self, fraction: float, eta_s: float | None = None) -> None:
        """This step's progress in [0, 1] (and its own remaining-time estimate)."""
        with self._lock:
            self._progress, self._eta_s = fraction, eta_s

    def save_checkpoint(self, key: str) -> None:
        """Remember where resumable state lives; raises :class:`JobLostError` if not ours."""
        if not self._queue.save_checkpoint_key(self.lease, key):
            raise JobLostError(f"job {self.lease.job_id} is no longer held by this worker")
        self.checkpoint_key = key

    def should_stop(self) -> bool:
        """Long steps poll this to stop early when the job was cancelled or lost."""
        return not self._queue.still_owned(self.lease)

    def snapshot(self) -> tuple[float, float | None]:
        with self._lock:
            return self._progress, self._eta_s


class Step(ABC):
    """One named stage of a job. Implementers do the work in :meth:`run`.

    ``weight`` is the step's share of the whole job's progress bar; ``session_state``
    is what the visitor's session shows while the step runs and ``done_state`` what it
    shows once the step finished (None: unchanged).
    """

    name: str
    weight: float = 1.0
    session_state: SessionState | None = None
    done_state: SessionState | None = None

    @abstractmethod
    def run(self, ctx: StepContext) -> str | None:
        """Do the work; return a checkpoint key for later steps (or None). Raise
        :class:`StepError` (or any exception) to fail this attempt."""


Pipelines = Mapping[str, Sequence[Step]]


class Worker:
    """Runs jobs from ``queue`` through the steps of ``pipelines[job.kind]``."""

    def __init__(
        self,
        queue: JobQueue,
        pipelines: Pipelines,
        name: str,
        heartbeat_s: float = 5.0,
        poll_s: float = 2.0,
    ) -> None:
        self.queue, self.pipelines, self.name = queue, pipelines, name
        self.heartbeat_s, self.poll_s = heartbeat_s, poll_s
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run_forever(self, on_idle: Callable[[], None] | None = None) -> None:
        while not self._stop.is_set():
            if not self.run_once():
                if on_idle is not None:
                    on_idle()
                self._stop.wait(self.poll_s)

    def run_once(self) -> bool:
        """Claim and run one job; False when the queue had nothing claimable."""
        lease = self.queue.claim(self.name)
        if lease is None:
            return False
        steps = self.pipelines.get(lease.kind)
        if steps is None:
            self.queue.fail(lease, f"no worker pipeline for job kind {lease.kind!r}")
            return True
        try:
            self._run_steps(lease, steps)
        except JobLostError as exc:
            logger.warning("job %s: %s; stopped", lease.job_id, exc)
        except StepHeldError as exc:
            logger.warning("job %s: %s; the session waits for the operator", lease.job_id, exc)
            if self.queue.complete(lease):
                with transaction(self.queue.factory) as db:
                    transition(db, lease.session_id, exc.state, str(exc), strict=False)
        except StepRejectedError as exc:
            logger.warning("job %s: %s", lease.job_id, exc)
            self.queue.fail(lease, str(exc), final=True)
        except Exception as exc:
            logger.exception("job %s failed in a step", lease.job_id)
            self.queue.fail(lease, f"{type(exc).__name__}: {exc}")
        except BaseException:  # Ctrl-C / SIGTERM: hand the job back before exiting
            self.queue.release(lease)
            raise
        return True

    def _run_steps(self, lease: Lease, steps: Sequence[Step]) -> None:
        names = [s.name for s in steps]
        start = names.index(lease.step) + 1 if lease.step in names else 0
        if start:
            logger.info("job %s resumes after step %r", lease.job_id, lease.step)
        total = sum(s.weight for s in steps) or 1.0
        done = sum(s.weight for s in steps[:start])
        checkpoint = lease.checkpoint_key
        for step in steps[start:]:
            if not self.queue.still_owned(lease):
                raise JobLostError(f"job {lease.job_id} was cancelled or re-claimed")
            if step.session_state is not None:
                with transaction(self.queue.factory) as db:
                    transition(db, lease.session_id, step.session_state, strict=False)
            ctx = StepContext(lease, checkpoint, self.queue)
            self._run_with_heartbeat(step, ctx, done / total, step.weight / total)
            done += step.weight
            checkpoint = ctx.checkpoint_key
            if not self.queue.checkpoint(lease, step.name, checkpoint):
                raise JobLostError(f"job {lease.job_id} was lost during step {step.name!r}")
            if step.done_state is not None:
                with transaction(self.queue.factory) as db:
                    transition(db, lease.session_id, step.done_state, strict=False)
        self.queue.complete(lease)

    def _run_with_heartbeat(self, step: Step, ctx: StepContext, base: float, share: float) -> None:
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.heartbeat_s):
                fraction, eta = ctx.snapshot()
                if not self.queue.heartbeat(ctx.lease, base + share * fraction, eta):
                    logger.warning("job %s: heartbeat refused, lease lost", ctx.lease.job_id)
                    return

        thread = threading.Thread(target=beat, name=f"heartbeat-{ctx.lease.job_id}", daemon=True)
        thread.start()
        started = time.monotonic()
        try:
            key = step.run(ctx)
            if key is not None:
                ctx.checkpoint_key = key
        finally:
            stop.set()
            thread.join()
        logger.info(
            "job %s: step %s took %.1fs", ctx.lease.job_id, step.name, time.monotonic() - started
        )
        self.queue.heartbeat(ctx.lease, base + share)
