"""Completeness against the end-of-capture manifest: resends for gaps, then uploaded + job."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from cloud.db.lifecycle import state_of
from cloud.db.models import Job, Manifest, utcnow
from cloud.db.states import SessionState
from cloud.ingest.ingestor import Incoming
from cloud.ingest.manifests import CompletenessChecker, Policy, seq_ranges
from protocol.messages import CaptureManifest, ResendRequest, SeqRange
from tests.cloud.ingest.conftest import BOOTH, TOPICS, Rig, frame_message, packet


def manifest(node: str, last: int, dropped: list[int] | None = None) -> Incoming:
    dropped = dropped or []
    body = CaptureManifest(
        session="s1",
        node=node,
        first_seq=0,
        last_seq=last,
        frame_count=last + 1 - len(dropped),
        dropped=dropped,
        width=640,
        height=480,
        fps=30,
        started_at=1.0,
        ended_at=2.0,
    )
    return Incoming(TOPICS.manifest(BOOTH, node, "s1"), body.to_bytes())


def test_seq_ranges() -> None:
    assert seq_ranges({5, 1, 2, 3, 9}) == [
        SeqRange(first=1, last=3),
        SeqRange(first=5, last=5),
        SeqRange(first=9, last=9),
    ]
    assert seq_ranges(set()) == []


def test_gaps_are_requested_then_the_session_completes(rig: Rig) -> None:
    sent: list[ResendRequest] = []
    checker = CompletenessChecker(rig.factory, sent.append, Policy(resend_after_s=1.0))
    missing = {3, 4, 5, 17}
    rig.ingestor.handle([frame_message(packet(s)) for s in range(20) if s not in missing])
    rig.ingestor.handle([frame_message(packet(s, node="node2")) for s in range(10)])
    rig.ingestor.handle([manifest("node1", 19), manifest("node2", 11, dropped=[10, 11])])
    assert checker.check() == []
    assert sent == []  # frames may still be in flight: wait for quiet
    later = utcnow() + timedelta(seconds=2)
    assert checker.check(later) == []
    assert sent == [ResendRequest(session="s1", node="node1", ranges=seq_ranges(missing))]
    assert checker.check(later) == []  # asked already: not again before the interval
    assert len(sent) == 1
    with rig.factory() as db:
        assert state_of(db, "s1") is SessionState.CAPTURING
        row = db.get(Manifest, ("s1", "node2"))
        assert row is not None and row.complete
    rig.ingestor.handle([frame_message(packet(s)) for s in sorted(missing)])
    assert checker.check() == ["s1"]
    assert checker.check() == []  # only once
    with rig.factory() as db:
        assert state_of(db, "s1") is SessionState.QUEUED
        jobs = db.scalars(select(Job)).all()
    assert [(j.session_id, j.kind) for j in jobs] == [("s1", "finetune")]


def test_a_node_that_never_delivers_fails_the_session(rig: Rig) -> None:
    sent: list[ResendRequest] = []
    policy = Policy(resend_after_s=0.01, resend_interval_s=0.01, max_resend_requests=2)
    checker = CompletenessChecker(rig.factory, sent.append, policy)
    rig.ingestor.handle([frame_message(packet(0)), manifest("node1", 1)])
    for i in range(4):
        checker.check(utcnow() + timedelta(seconds=i + 1))
    assert len(sent) == 2
    with rig.factory() as db:
        assert state_of(db, "s1") is SessionState.FAILED
