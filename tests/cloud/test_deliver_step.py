"""The worker's deliver step through the one delivery path, against a real SMTP server: a
refused email never marks the session delivered, and a worker that dies mid-send never
leaves the visitor a dead link."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_session
from cloud.db.models import Job, JobState, Mail, Rendition, Session, utcnow
from cloud.db.states import SessionState
from cloud.delivery.mailer import SmtpMailer
from cloud.delivery.outbox import flush, retry_policy
from cloud.delivery.tokens import token_digest
from cloud.jobs.deliver import DeliverStep
from cloud.jobs.pipeline import model_key, report_key
from cloud.jobs.queue import JobQueue
from cloud.jobs.worker import Worker
from cloud.settings import CloudSettings, SmtpMail
from cloud.storage.local import LocalStorage
from tests.cloud.delivery.smtp_server import run_smtp

SID = "srendered"
# What the render step's checks report for a rendition of the visitor dancing.
PASSING = {
    "pose": {"frames": 24, "missing": 0.0, "mean_error": 0.08, "parts": {"arms": 0.1}},
    "appearance": {"parts": {"torso": 0.2, "legs": 0.25}, "drift": {"torso": 0.01}},
}
TOKEN = re.compile(r"/r/([A-Za-z0-9_-]{22,})")


def _rendered(engine: Engine, tmp_path: Path) -> tuple[sessionmaker[Db], LocalStorage]:
    """A session whose render step finished: its report and metrics are in the store."""
    storage = LocalStorage(tmp_path / "store")
    storage.put(
        report_key(SID),
        json.dumps(
            {"dance": "wave-party", "video_key": "v.mp4", "flicker": 1.0, "checks": PASSING}
        ).encode(),
    )
    storage.put(model_key(SID, "metrics.json"), json.dumps({"ssim": 0.9}).encode())
    factory = session_factory(engine)
    with transaction(factory) as db:
        row = ensure_session(db, "booth1", SID, SessionState.RENDERING)
        row.email, row.consent = "ana@example.com", True
    return factory, storage


def _settings(port: int) -> CloudSettings:
    mail = SmtpMail(host="127.0.0.1", port=port, security="none", sender="b@example.org")
    return CloudSettings(mail=mail, delivery={"mail_backoff_s": 30})


def _state(factory: sessionmaker[Db]) -> SessionState:
    with factory() as db:
        state = db.scalar(select(Session.state).where(Session.id == SID))
        assert state is not None
        return state


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_refused_email_leaves_the_session_mail_pending(engine: Engine, tmp_path: Path) -> None:
    factory, storage = _rendered(engine, tmp_path)
    with run_smtp(tmp_path) as server:
        server.inbox.refuse = 1
        settings = _settings(server.port)
        queue = JobQueue(factory)
        job = queue.enqueue(SID, "finetune", queue_session=False)
        step = DeliverStep(settings, factory, storage)
        assert Worker(queue, {"finetune": [step]}, "w1", heartbeat_s=0.2).run_once()
        with factory() as db:
            done = db.get(Job, job.id)
            assert done is not None and done.state is JobState.SUCCEEDED  # the job is over
            session = db.get(Session, SID)
            assert session is not None and session.state is SessionState.MAIL_PENDING
            assert session.delivered_at is None and "451" in (session.error or "")
        with transaction(factory) as db:  # the backoff has passed
            db.execute(update(Mail).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        mailer = SmtpMailer(settings.mail)  # type: ignore[arg-type]
        assert flush(factory, mailer, retry_policy(settings.delivery)).sent == 1
    assert _state(factory) is SessionState.DELIVERED
    assert len(server.inbox.messages) == 1


class Dying:
    """A mailer whose process dies while sending (SIGKILL, OOM): nothing leaves."""

    def send(self, key: str, message: bytes) -> None:
        raise SystemExit("killed")

    def forget(self, session_id: str) -> int:
        return 0


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_worker_dying_mid_send_never_mails_a_dead_link(engine: Engine, tmp_path: Path) -> None:
    factory, storage = _rendered(engine, tmp_path)
    with run_smtp(tmp_path) as server:
        settings = _settings(server.port)
        queue = JobQueue(factory, lease_s=0.5)
        queue.enqueue(SID, "finetune", queue_session=False)
        doomed = DeliverStep(settings, factory, storage, mailer=Dying())
        with pytest.raises(SystemExit):
            Worker(queue, {"finetune": [doomed]}, "w1", heartbeat_s=0.1).run_once()
        with transaction(factory) as db:  # its email's lease runs out with it
            db.execute(update(Mail).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        step = DeliverStep(settings, factory, storage)  # the job again, on another worker
        assert Worker(queue, {"finetune": [step]}, "w2", heartbeat_s=0.1).run_once()
    (msg,) = server.inbox.messages  # one email, whose link is the one recorded
    match = TOKEN.search(msg.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    assert match is not None
    with factory() as db:
        rendition = db.get(Rendition, SID)
        assert rendition is not None and rendition.token_digest == token_digest(match.group(1))
    assert _state(factory) is SessionState.DELIVERED


def test_the_booths_running_median_of_flicker_needs_history_and_ignores_other_booths(
    engine: Engine,
) -> None:
    from datetime import timedelta as td

    from cloud.jobs.deliver import flicker_median

    factory = session_factory(engine)
    with transaction(factory) as db:
        for i in range(6):
            ensure_session(db, "booth1" if i < 5 else "booth2", f"sold{i}", SessionState.DELIVERED)
            db.add(
                Rendition(
                    session_id=f"sold{i}",
                    video_key="v.mp4",
                    flicker=[0.3, 0.4, 0.5, 0.2, None, 9.0][i],
                    created_at=utcnow() - td(minutes=10 - i),
                )
            )
    with factory() as db:
        assert flicker_median(db, "booth1", "snew", 50) is None  # 4 values: too few
    with transaction(factory) as tx:
        ensure_session(tx, "booth1", "sold6", SessionState.DELIVERED)
        tx.add(Rendition(session_id="sold6", video_key="v.mp4", flicker=0.35))
    with factory() as db:
        assert flicker_median(db, "booth1", "snew", 50) == pytest.approx(0.35)
        assert flicker_median(db, "booth1", "sold6", 50) is None  # itself left out
