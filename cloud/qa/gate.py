"""The gate between upload and fine-tune: capture QA decides whether a just-uploaded
session's fine-tune is queued now or waits for the operator.

::

    uploaded ─▶ QA ─┬─ passed ────────────────────────────▶ fine-tune queued
                    ├─ below, booth auto-accepts (logged) ─▶ fine-tune queued
                    └─ below ─▶ "retake suggested" ─┬─ operator accepts (logged with
                                                    │  the scores) ─▶ fine-tune queued
                                                    └─ operator retakes ─▶ retake

The uploader that moved the session to ``uploaded`` runs :meth:`CaptureGate.review`
(the state change is atomic, so only one does). :meth:`CaptureGate.sweep` reviews
sessions left ``uploaded`` without a verdict by an uploader that died in between.
A session whose QA cannot run at all (its dance was removed, a shard is unreadable)
waits for the operator with that as its reason, rather than being queued unseen.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.engine import transaction
from cloud.db.lifecycle import enqueue_job, state_of
from cloud.db.models import Booth, CaptureQa, Job, JobKind, QaDecision, utcnow
from cloud.db.models import Session as SessionRow
from cloud.db.states import SessionState, TransitionError
from cloud.ingest.ingestor import INFRASTRUCTURE_ERRORS
from cloud.qa.poses import PoseScoreError
from cloud.qa.session import QaInputError, assess_session
from cloud.settings import CloudSettings
from cloud.storage import Storage
from protocol.errors import ShardError

logger = logging.getLogger(__name__)

SWEEP_AFTER_S = 30.0  # an ``uploaded`` session without a verdict this long was dropped


class QaDecisionError(ValueError):
    """An operator decision the session's state does not allow; the message says why."""


def _scores(report: dict[str, Any]) -> str:
    """A one-line summary of a report's scores, for the log."""
    parts = [f"coverage {report.get('coverage')}"]
    for node in report.get("nodes", []):
        poses = node.get("poses") or {}
        images = node.get("images") or {}
        figures = {**poses, **images}
        keep = ("whole_body", "feet", "frame_share", "motion", "sharpness", "brightness")
        shown = ", ".join(
            f"{k} {figures[k]:.2f}" for k in keep if isinstance(figures.get(k), float)
        )
        parts.append(f"{node.get('node')}: {shown}")
    return "; ".join(parts)


class CaptureGate:
    """Runs capture QA on uploaded sessions and queues the fine-tunes it lets through."""

    def __init__(self, storage: Storage, factory: sessionmaker[Db], settings: CloudSettings):
        self.storage = storage
        self.factory = factory
        self.settings = settings

    def review(self, session: str) -> QaDecision | None:
        """Score ``session`` (state ``uploaded``), record the verdict and queue its
        fine-tune if it passed or the booth auto-accepts; None: waits for the operator."""
        report = self._assess(session)
        with transaction(self.factory) as db:
            if state_of(db, session) is not SessionState.UPLOADED:
                logger.info("session %s left uploaded during QA; verdict not applied", session)
                return None
            row = db.get(SessionRow, session)
            booth = db.get(Booth, row.booth_id) if row is not None else None
            passed = bool(report["passed"])
            decision: QaDecision | None = None
            if passed:
                decision = QaDecision.PASSED
            elif self._auto_accepts(booth):
                decision = QaDecision.AUTO_ACCEPTED
                logger.warning(
                    "session %s: capture QA suggests a retake (%s) but booth %s auto-accepts; "
                    "queued with %s",
                    session,
                    "; ".join(report["reasons"]),
                    row.booth_id if row is not None else "?",
                    _scores(report),
                )
            db.execute(delete(CaptureQa).where(CaptureQa.session_id == session))
            db.add(
                CaptureQa(
                    session_id=session,
                    passed=passed,
                    coverage=report.get("coverage"),
                    report=report,
                    decision=decision,
                    decided_by="booth setting" if decision is QaDecision.AUTO_ACCEPTED else None,
                    decided_at=utcnow() if decision else None,
                )
            )
            if decision is not None:
                enqueue_job(db, session, JobKind.FINETUNE, self.settings.uploader.max_attempts)
        if decision is None:
            logger.info("session %s: retake suggested: %s", session, "; ".join(report["reasons"]))
        return decision

    def _auto_accepts(self, booth: Booth | None) -> bool:
        if booth is None or booth.qa_auto_accept is None:
            return self.settings.qa.auto_accept
        return booth.qa_auto_accept

    def _assess(self, session: str) -> dict[str, Any]:
        try:
            report = assess_session(
                self.storage, self.factory, session, self.settings.qa, self.settings.worker.dance
            )
            return report.to_json()
        except INFRASTRUCTURE_ERRORS:
            raise  # the database or object store is down: the sweep tries again
        except (QaInputError, PoseScoreError, ShardError) as exc:
            logger.error("session %s: capture QA could not run: %s", session, exc)
            problem = str(exc)
        except Exception as exc:  # a bug met by this take must not hold the line
            logger.exception("session %s: capture QA failed", session)
            problem = f"internal error: {exc!r}"
        reason = f"capture QA could not run ({problem}): check the take, then accept or retake"
        return {"passed": False, "coverage": None, "reasons": [reason], "nodes": []}

    def sweep(self) -> list[str]:
        """Review sessions ``uploaded`` for a while with no verdict and no job."""
        cutoff = utcnow() - timedelta(seconds=SWEEP_AFTER_S)
        with self.factory() as db:
            judged = select(CaptureQa.session_id)
            queued = select(Job.session_id)
            stale = db.scalars(
                select(SessionRow.id).where(
                    SessionRow.state == SessionState.UPLOADED,
                    SessionRow.uploaded_at < cutoff,
                    SessionRow.id.not_in(judged),
                    SessionRow.id.not_in(queued),
                )
            ).all()
        for session in stale:
            logger.warning("session %s was left uploaded without a QA verdict: reviewing", session)
            self.review(session)
        return list(stale)


def accept(db: Db, session: str, operator: str, max_attempts: int) -> CaptureQa:
    """The operator queues the fine-tune despite a suggested retake; logged with the scores."""
    row = waiting(db, session)
    row.decision, row.decided_by, row.decided_at = QaDecision.ACCEPTED, operator, utcnow()
    logger.warning(
        "session %s: operator %s overrode capture QA (%s); scores: %s",
        session,
        operator,
        "; ".join(row.report.get("reasons", [])) or "no reasons",
        _scores(row.report),
    )
    try:
        enqueue_job(db, session, JobKind.FINETUNE, max_attempts)
    except TransitionError as exc:
        raise QaDecisionError(str(exc)) from None
    return row


def record_retake(db: Db, session: str, operator: str) -> None:
    """Note that the operator followed the suggestion (the caller sends the visitor back)."""
    row = db.get(CaptureQa, session)
    if row is not None and row.decision is None:
        row.decision, row.decided_by, row.decided_at = QaDecision.RETAKE, operator, utcnow()
        logger.info("session %s: operator %s sent the visitor to retake", session, operator)


def waiting(db: Db, session: str) -> CaptureQa:
    state = state_of(db, session)
    row = db.get(CaptureQa, session)
    if state is not SessionState.UPLOADED or row is None or row.decision is not None:
        raise QaDecisionError(
            f"session {session} is {state}"
            + ("" if row is None else f" (QA decision: {row.decision or 'none yet'})")
            + ": only an uploaded take whose QA suggested a retake waits for a decision"
        )
    return row
