"""The session state machine, pure and in the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import enqueue_job, ensure_session, state_of, transition
from cloud.db.models import Frame, Job, JobKind, JobState
from cloud.db.states import (
    TRANSITIONS,
    SessionState,
    TransitionError,
    check_transition,
    sources_of,
)

S = SessionState


def test_the_happy_path_is_allowed() -> None:
    path = [S.REGISTERED, S.CAPTURING, S.UPLOADED, S.QUEUED, S.TRAINING, S.RENDERING]
    for old, new in itertools.pairwise([*path, S.MAIL_PENDING, S.DELIVERED]):
        check_transition(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (S.REGISTERED, S.UPLOADED),
        (S.DELETED, S.CAPTURING),
        (S.DELIVERED, S.TRAINING),
        (S.CAPTURING, S.DELIVERED),
        (S.UPLOADED, S.CAPTURING),
    ],
)
def test_skipping_or_leaving_deleted_is_refused(old: S, new: S) -> None:
    with pytest.raises(TransitionError, match=f"from {old} to {new}"):
        check_transition(old, new)


def test_a_held_rendition_waits_for_the_operator() -> None:
    check_transition(S.RENDERING, S.NEEDS_REVIEW)
    assert TRANSITIONS[S.NEEDS_REVIEW] == {S.MAIL_PENDING, S.RETAKE, S.FAILED, S.QUEUED, S.DELETED}
    for skip in (S.TRAINING, S.QUEUED, S.CAPTURING):  # only a finished rendition is held
        with pytest.raises(TransitionError):
            check_transition(skip, S.NEEDS_REVIEW)


def test_only_a_sent_email_makes_a_session_delivered() -> None:
    assert sources_of(S.DELIVERED) == {S.MAIL_PENDING}
    check_transition(S.MAIL_PENDING, S.MAIL_FAILED)
    check_transition(S.MAIL_FAILED, S.MAIL_PENDING)  # the operator's re-send
    check_transition(S.DELIVERED, S.MAIL_PENDING)  # likewise, with a fresh link


def test_every_state_has_rules_and_deleted_is_final() -> None:
    assert set(TRANSITIONS) == set(SessionState)
    assert TRANSITIONS[S.DELETED] == frozenset()
    assert all(S.DELETED in t for s, t in TRANSITIONS.items() if s is not S.DELETED)


def test_transitions_in_the_database(engine: Engine) -> None:
    factory = session_factory(engine)
    with transaction(factory) as db:
        ensure_session(db, "booth1", "s1", S.REGISTERED)
        ensure_session(db, "booth1", "s1", S.CAPTURING)  # exists: unchanged
    with transaction(factory) as db:
        assert state_of(db, "s1") is S.REGISTERED
        assert transition(db, "s1", S.CAPTURING)
        assert not transition(db, "s1", S.CAPTURING)  # repeated: harmless no-op
        with pytest.raises(TransitionError):
            transition(db, "s1", S.DELIVERED)
        assert transition(db, "s1", S.UPLOADED)
        job = enqueue_job(db, "s1", JobKind.FINETUNE)
    with transaction(factory) as db:
        assert state_of(db, "s1") is S.QUEUED
        stored = db.get(Job, job.id)
        assert stored is not None and stored.state is JobState.QUEUED
        assert stored.kind == "finetune"


def test_frames_are_unique_per_session_node_seq(engine: Engine) -> None:
    factory = session_factory(engine)
    with transaction(factory) as db:
        ensure_session(db, "booth1", "s1", S.CAPTURING)
        db.add(
            Frame(session_id="s1", node_id="n1", seq=7, shard_key="k", capture_ns=1, jpeg_bytes=10)
        )
    with pytest.raises(IntegrityError), transaction(factory) as db:
        db.add(
            Frame(session_id="s1", node_id="n1", seq=7, shard_key="k2", capture_ns=1, jpeg_bytes=10)
        )
    with transaction(factory) as db:
        assert db.scalar(select(func.count()).select_from(Frame)) == 1
