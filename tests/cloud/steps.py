"""Small real worker steps for queue tests: they append to a journal file and can hang."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from cloud.db.states import SessionState
from cloud.jobs.worker import Step, StepContext, StepError


class JournalStep(Step):
    """Appends ``<session> <name> <checkpoint>`` to a file and returns a checkpoint key."""

    def __init__(
        self,
        name: str,
        journal: Path,
        state: SessionState | None = None,
        done_state: SessionState | None = None,
    ) -> None:
        self.name, self.journal = name, journal
        self.session_state, self.done_state = state, done_state

    def run(self, ctx: StepContext) -> str | None:
        ctx.report(0.5)
        with self.journal.open("a") as f:
            f.write(f"{ctx.session_id} {self.name} {ctx.checkpoint_key}\n")
        return f"ckpt/{ctx.session_id}/{self.name}"


class HangStep(Step):
    """Signals it started (a file), then blocks until killed: a worker dying mid-step."""

    def __init__(self, name: str, started: Path) -> None:
        self.name, self.started = name, started

    def run(self, ctx: StepContext) -> str | None:
        self.started.write_text(str(ctx.lease.job_id))
        while True:
            time.sleep(0.1)


class InterruptedStep(Step):
    """The worker is told to stop (Ctrl-C, or SIGTERM turned into one) mid-step."""

    name = "interrupted"

    def run(self, ctx: StepContext) -> str | None:
        raise KeyboardInterrupt


class FailingStep(Step):
    name = "flaky"

    def run(self, ctx: StepContext) -> str | None:
        raise StepError("the GPU caught fire")


class CancelDuringStep(Step):
    """Plays the operator pressing cancel while this step runs."""

    name = "cancel-me"

    def run(self, ctx: StepContext) -> str | None:
        from cloud.jobs.queue import JobQueue

        queue = ctx._queue
        assert isinstance(queue, JobQueue)
        queue.cancel(ctx.lease.job_id)
        return None


def main() -> None:
    """Subprocess entry: run one job whose second step hangs (``url journal started``)."""
    from cloud.db.engine import make_engine, session_factory
    from cloud.jobs.queue import JobQueue
    from cloud.jobs.worker import Worker

    url, journal, started = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    queue = JobQueue(session_factory(make_engine(url)), lease_s=1.0)
    steps = [JournalStep("finetune", journal), HangStep("render", started)]
    Worker(queue, {"finetune": steps}, name="doomed", heartbeat_s=0.2).run_once()


if __name__ == "__main__":
    main()
