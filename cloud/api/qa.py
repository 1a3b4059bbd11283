"""Capture QA as the booth sees it: a session's verdict, the operator's accept or retake,
and the booth's auto-accept setting. Raises :mod:`cloud.api.errors`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session as Db

from cloud.api.errors import ConflictError, NotFoundError
from cloud.api.schemas import QaView
from cloud.db.lifecycle import ensure_booth
from cloud.db.models import Booth, CaptureQa, QaDecision
from cloud.qa import gate


def view(row: CaptureQa) -> QaView:
    report = row.report or {}
    notes = [n for node in report.get("nodes", []) for n in node.get("notes", [])]
    return QaView(
        session_id=row.session_id,
        passed=row.passed,
        coverage=row.coverage,
        reasons=list(report.get("reasons", [])),
        notes=notes,
        decision=QaDecision(row.decision) if row.decision else None,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        report=report,
    )


def get(db: Db, session: str) -> QaView:
    row = db.get(CaptureQa, session)
    if row is None:
        raise NotFoundError(f"session {session} has no capture QA verdict (not uploaded yet?)")
    return view(row)


def views(db: Db, sessions: list[str]) -> dict[str, QaView]:
    out: dict[str, QaView] = {}
    for i in range(0, len(sessions), 500):
        rows = db.scalars(select(CaptureQa).where(CaptureQa.session_id.in_(sessions[i : i + 500])))
        out.update({r.session_id: view(r) for r in rows})
    return out


def retake_reasons(db: Db, session: str) -> list[str]:
    """What the visitor's screen says while a retake is suggested and undecided."""
    row = db.get(CaptureQa, session)
    if row is None or row.passed or row.decision is not None:
        return []
    return list((row.report or {}).get("reasons", []))


def accept(db: Db, session: str, operator: str, max_attempts: int) -> QaView:
    try:
        return view(gate.accept(db, session, operator, max_attempts))
    except gate.QaDecisionError as exc:
        raise ConflictError(str(exc)) from None


def check_retake(db: Db, session: str) -> None:
    """A QA retake is for a take that waits for a decision; refuse anything else."""
    try:
        gate.waiting(db, session)
    except gate.QaDecisionError as exc:
        raise ConflictError(str(exc)) from None


def auto_accept(db: Db, booth: str, default: bool) -> bool:
    row = db.get(Booth, booth)
    return default if row is None or row.qa_auto_accept is None else row.qa_auto_accept


def set_auto_accept(db: Db, booth: str, value: bool) -> None:
    row = ensure_booth(db, booth)
    row.qa_auto_accept = value
