"""The gate between upload and fine-tune, on SQLite and PostgreSQL: a take that passes
is queued; one below the thresholds waits for the operator, unless the booth
auto-accepts; an operator's override is logged with the scores."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from benchmarks.capture_qa import BOOTH, store_capture
from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import state_of, transition
from cloud.db.models import Booth, CaptureQa, Job, QaDecision, utcnow
from cloud.db.models import Session as SessionRow
from cloud.db.states import SessionState
from cloud.ingest.manifests import CompletenessChecker, Policy, record_manifest
from cloud.qa.gate import CaptureGate, QaDecisionError, accept, record_retake
from cloud.settings import CloudSettings
from cloud.storage.local import LocalStorage
from common.reference import load_reference
from edge.synthetic.captures import synthetic_capture
from protocol.messages import CaptureManifest

DANCE = "disco-steps"


class Rig:
    def __init__(self, engine: Engine, tmp_path: Path, **qa: object) -> None:
        self.factory: sessionmaker[Db] = session_factory(engine)
        self.storage = LocalStorage(tmp_path / "store")
        self.settings = CloudSettings(booth=BOOTH, qa=qa, worker={"dance": DANCE})
        self.gate = CaptureGate(self.storage, self.factory, self.settings)

    def take(self, session: str, kind: str, seconds: float | None = None) -> int:
        duration = seconds or load_reference(DANCE).duration_s
        c = synthetic_capture(kind, DANCE, 5, width=320, height=240, duration_s=duration, jpegs=3)
        return store_capture(self.storage, self.factory, session, "node1", c, dance=DANCE)

    def uploaded(self, session: str, kind: str, seconds: float | None = None) -> None:
        self.take(session, kind, seconds)
        with transaction(self.factory) as db:
            assert transition(db, session, SessionState.UPLOADED)

    def state(self, session: str) -> tuple[SessionState | None, int, CaptureQa | None]:
        with self.factory() as db:
            jobs = len(db.scalars(select(Job).where(Job.session_id == session)).all())
            return state_of(db, session), jobs, db.get(CaptureQa, session)


@pytest.fixture
def rig(engine: Engine, tmp_path: Path) -> Rig:
    return Rig(engine, tmp_path)


def test_a_take_that_passes_is_queued(rig: Rig) -> None:
    rig.uploaded("good", "along")
    assert rig.gate.review("good") is QaDecision.PASSED
    state, jobs, row = rig.state("good")
    assert (state, jobs) == (SessionState.QUEUED, 1)
    assert row is not None and row.passed and row.decision == "passed"
    assert row.coverage is not None and row.coverage >= rig.settings.qa.min_coverage


def test_a_take_below_the_thresholds_waits_then_the_override_is_logged(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.uploaded("still", "still", 4.0)
    assert rig.gate.review("still") is None
    state, jobs, row = rig.state("still")
    assert (state, jobs) == (SessionState.UPLOADED, 0)
    assert row is not None and not row.passed and row.decision is None
    assert any("hardly any movement" in r for r in row.report["reasons"])
    with transaction(rig.factory) as db:
        accept(db, "still", "alice", 3)
    state, jobs, row = rig.state("still")
    assert (state, jobs) == (SessionState.QUEUED, 1)
    assert row is not None and row.decision == "accepted" and row.decided_by == "alice"
    logged = [r.getMessage() for r in caplog.records if "overrode capture QA" in r.getMessage()]
    assert len(logged) == 1 and "alice" in logged[0] and "motion 0.0" in logged[0]
    with transaction(rig.factory) as db, pytest.raises(QaDecisionError, match="queued"):
        accept(db, "still", "alice", 3)  # decided already


def test_a_booth_that_auto_accepts_queues_and_logs(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(engine, tmp_path)
    rig.uploaded("still", "still", 4.0)
    with transaction(rig.factory) as db:
        db.execute(update(Booth).where(Booth.id == BOOTH).values(qa_auto_accept=True))
    assert rig.gate.review("still") is QaDecision.AUTO_ACCEPTED
    state, jobs, row = rig.state("still")
    assert (state, jobs) == (SessionState.QUEUED, 1)
    assert row is not None and not row.passed and row.decided_by == "booth setting"
    assert any("auto-accepts" in r.getMessage() for r in caplog.records)
    # The booth's own setting wins over the deployment's default, both ways.
    other = Rig(engine, tmp_path / "b", auto_accept=True)
    with transaction(other.factory) as db:
        db.execute(update(Booth).where(Booth.id == BOOTH).values(qa_auto_accept=False))
    other.uploaded("still2", "still", 4.0)
    assert other.gate.review("still2") is None


def test_a_retake_is_recorded_and_the_next_take_judged_alone(rig: Rig) -> None:
    rig.uploaded("s", "still", 4.0)
    assert rig.gate.review("s") is None
    with transaction(rig.factory) as db:
        record_retake(db, "s", "alice")
        assert transition(db, "s", SessionState.RETAKE)
    _, _, row = rig.state("s")
    assert row is not None and row.decision == "retake"
    # The retake's frames come after a pause, with new sequence numbers.
    duration = load_reference(DANCE).duration_s
    c = synthetic_capture("along", DANCE, 5, width=320, height=240, duration_s=duration, jpegs=3)
    store_capture(rig.storage, rig.factory, "s", "node1", c, first_seq=1000, start_s=60.0)
    with transaction(rig.factory) as db:
        assert transition(db, "s", SessionState.UPLOADED)
    assert rig.gate.review("s") is QaDecision.PASSED


def test_a_take_qa_cannot_score_waits_with_the_reason(rig: Rig) -> None:
    rig.uploaded("s", "along", 2.0)
    with transaction(rig.factory) as db:
        row = db.get(SessionRow, "s")
        assert row is not None
        row.dance = "removed-dance"
    assert rig.gate.review("s") is None
    _, jobs, qa = rig.state("s")
    assert jobs == 0 and qa is not None
    assert qa.report["reasons"][0].startswith("capture QA could not run (dance removed-dance")


def test_the_sweep_judges_a_take_its_uploader_dropped(rig: Rig) -> None:
    rig.uploaded("s", "along")
    assert rig.gate.sweep() == []  # not yet: its uploader may still be at it
    with transaction(rig.factory) as db:
        db.execute(
            update(SessionRow)
            .where(SessionRow.id == "s")
            .values(uploaded_at=utcnow() - timedelta(minutes=5))
        )
    assert rig.gate.sweep() == ["s"]
    assert rig.state("s")[:2] == (SessionState.QUEUED, 1)
    assert rig.gate.sweep() == []


def test_completeness_hands_the_session_to_the_gate(rig: Rig) -> None:
    frames = rig.take("s", "along")
    checker = CompletenessChecker(rig.factory, lambda _r: None, Policy(), rig.gate)
    manifest = CaptureManifest(
        session="s",
        node="node1",
        first_seq=0,
        last_seq=frames - 1,
        frame_count=frames,
        dropped=[],
        width=320,
        height=240,
        fps=30,
        started_at=1.0,
        ended_at=2.0,
    )
    with transaction(rig.factory) as db:
        record_manifest(db, BOOTH, manifest)
    assert checker.check() == ["s"]
    state, jobs, row = rig.state("s")
    assert (state, jobs) == (SessionState.QUEUED, 1) and row is not None and row.passed
