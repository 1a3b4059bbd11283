"""Completeness: compare what a node says it captured with what is stored, ask for the
gaps, and mark the session ``uploaded`` when nothing is missing. Then its fine-tune is
queued, or, with an :class:`UploadGate` (capture QA, :mod:`cloud.qa.gate`), the gate
decides.

A session is complete when every node that took part has a complete manifest. A node
took part if it sent frames or a manifest for the session, or its status names it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.engine import transaction
from cloud.db.lifecycle import enqueue_job, ensure_session, transition
from cloud.db.models import Frame, JobKind, Manifest, Node, utcnow
from cloud.db.models import Session as SessionRow
from cloud.db.states import SessionState
from protocol.messages import MAX_RESEND_RANGES, CaptureManifest, ResendRequest, SeqRange

logger = logging.getLogger(__name__)

_WAITING = (SessionState.REGISTERED, SessionState.CAPTURING, SessionState.RETAKE)


def seq_ranges(seqs: set[int]) -> list[SeqRange]:
    """Sorted sequence numbers as inclusive ranges."""
    ranges: list[SeqRange] = []
    start = prev = None
    for s in sorted(seqs):
        if prev is not None and s == prev + 1:
            prev = s
            continue
        if start is not None and prev is not None:
            ranges.append(SeqRange(first=start, last=prev))
        start = prev = s
    if start is not None and prev is not None:
        ranges.append(SeqRange(first=start, last=prev))
    return ranges


@dataclass(frozen=True)
class Policy:
    resend_after_s: float = 2.0
    resend_interval_s: float = 5.0
    max_resend_requests: int = 10
    job_max_attempts: int = 3


def record_manifest(db: Db, booth: str, manifest: CaptureManifest) -> None:
    """Store (or replace, if the node re-sent it) a node's end-of-capture manifest."""
    ensure_session(db, booth, manifest.session, SessionState.CAPTURING)
    row = db.get(Manifest, (manifest.session, manifest.node))
    expected = len(manifest.expected_seqs())
    if row is None:
        db.add(
            Manifest(
                session_id=manifest.session,
                node_id=manifest.node,
                body=manifest.model_dump(mode="json"),
                expected=expected,
            )
        )
    elif row.body != manifest.model_dump(mode="json"):
        row.body, row.expected, row.complete = manifest.model_dump(mode="json"), expected, False
        row.received_at = utcnow()
    logger.info("manifest %s/%s: %d frames expected", manifest.session, manifest.node, expected)


class UploadGate(Protocol):
    """What decides, once a session is ``uploaded``, whether its fine-tune is queued."""

    def review(self, session: str) -> object:
        """Judge the just-uploaded ``session``; queue its fine-tune or leave it waiting."""

    def sweep(self) -> list[str]:
        """Judge sessions left ``uploaded`` with no verdict (their reviewer died)."""


class CompletenessChecker:
    """Run :meth:`check` periodically; it publishes resend requests through ``send``."""

    def __init__(
        self,
        factory: sessionmaker[Db],
        send: Callable[[ResendRequest], None],
        policy: Policy,
        gate: UploadGate | None = None,
    ) -> None:
        self.factory = factory
        self.send = send
        self.policy = policy
        self.gate = gate

    def check(self, now: datetime | None = None) -> list[str]:
        """Check every open manifest; return the sessions that became ``uploaded``."""
        now = now or utcnow()
        with self.factory() as db:
            open_ = db.execute(
                select(Manifest.session_id, Manifest.node_id).where(Manifest.complete.is_(False))
            ).all()
        sessions = {s for s, _ in open_}
        for session, node in open_:
            self._check_node(session, node, now)
        done = []
        for session in sorted(sessions):
            if self._complete_session(session):
                done.append(session)
                if self.gate is not None:
                    self.gate.review(session)
        if self.gate is not None:
            self.gate.sweep()
        return done

    def _check_node(self, session: str, node: str, now: datetime) -> None:
        requests: list[ResendRequest] = []
        with transaction(self.factory) as db:
            row = db.get(Manifest, (session, node))
            if row is None or row.complete:
                return
            manifest = CaptureManifest.model_validate(row.body)
            have = set(
                db.scalars(
                    select(Frame.seq).where(Frame.session_id == session, Frame.node_id == node)
                )
            )
            missing = manifest.expected_seqs() - have
            row.received = row.expected - len(missing)
            if not missing:
                row.complete, row.completed_at = True, now
                logger.info("session %s node %s: all %d frames stored", session, node, row.expected)
                return
            if self._should_ask(db, row, now):
                ranges = seq_ranges(missing)
                for i in range(0, len(ranges), MAX_RESEND_RANGES):
                    chunk = ranges[i : i + MAX_RESEND_RANGES]
                    requests.append(ResendRequest(session=session, node=node, ranges=chunk))
                row.resend_requests += 1
                row.last_resend_at = now
                logger.info(
                    "session %s node %s: %d frames missing, resend request %d",
                    session,
                    node,
                    len(missing),
                    row.resend_requests,
                )
            elif row.resend_requests >= self.policy.max_resend_requests:
                self._give_up(db, session, node, len(missing))
        for request in requests:
            self.send(request)

    def _should_ask(self, db: Db, row: Manifest, now: datetime) -> bool:
        if row.resend_requests >= self.policy.max_resend_requests:
            return False
        last_frame = db.scalar(
            select(func.max(Frame.stored_at)).where(
                Frame.session_id == row.session_id, Frame.node_id == row.node_id
            )
        )
        # Wait for a quiet moment: frames still streaming in are not gaps yet.
        quiet_since = max(_aware(t) for t in (row.received_at, last_frame, row.last_resend_at) if t)
        wait = (
            self.policy.resend_after_s
            if row.resend_requests == 0
            else self.policy.resend_interval_s
        )
        return now - quiet_since >= timedelta(seconds=wait)

    def _give_up(self, db: Db, session: str, node: str, missing: int) -> None:
        state = db.scalar(select(SessionRow.state).where(SessionRow.id == session))
        if state in _WAITING:
            asked = self.policy.max_resend_requests
            reason = (
                f"node {node} never sent {missing} frames after {asked} resend requests: retake"
            )
            transition(db, session, SessionState.FAILED, error=reason)
            logger.error("session %s failed: %s", session, reason)

    def _complete_session(self, session: str) -> bool:
        with transaction(self.factory) as db:
            state = db.scalar(select(SessionRow.state).where(SessionRow.id == session))
            if state not in _WAITING:
                return False
            nodes = participants(db, session)
            complete = set(
                db.scalars(
                    select(Manifest.node_id).where(
                        Manifest.session_id == session, Manifest.complete.is_(True)
                    )
                )
            )
            if not nodes or nodes - complete:
                return False
            if state is not SessionState.CAPTURING:
                transition(db, session, SessionState.CAPTURING)
            if not transition(db, session, SessionState.UPLOADED):
                return False  # another uploader got there first
            if self.gate is None:
                enqueue_job(db, session, JobKind.FINETUNE, self.policy.job_max_attempts)
        then = "fine-tune queued" if self.gate is None else "capture QA next"
        logger.info("session %s uploaded from %d node(s); %s", session, len(nodes), then)
        return True


def participants(db: Db, session: str) -> set[str]:
    nodes = set(db.scalars(select(Frame.node_id).where(Frame.session_id == session).distinct()))
    nodes |= set(db.scalars(select(Manifest.node_id).where(Manifest.session_id == session)))
    nodes |= set(db.scalars(select(Node.id).where(Node.session_id == session)))
    return nodes


def _aware(t: datetime) -> datetime:
    # SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones.
    return t if t.tzinfo else t.replace(tzinfo=UTC)
