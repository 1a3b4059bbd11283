"""The stage screen's view of the booth: the latest capture, its dance (built-in or
added) and where the screen fetches the dance's files, and capture QA's verdict."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session as Db

from cloud.api.schemas import StageDance, StageView
from cloud.db.models import CaptureQa, Dance, DanceState, Session
from cloud.db.states import SessionState
from common.reference import REFERENCE_DIR, ReferenceDanceError, reference_dir

_SHOWN = frozenset(SessionState) - {SessionState.DELETED}


def _meta(db: Db, name: str) -> tuple[dict[str, Any], set[str]] | None:
    """The dance's dance.json and the files it has; None when it is unknown."""
    try:
        folder = reference_dir(name, REFERENCE_DIR)
    except ReferenceDanceError:
        row = db.get(Dance, name)
        if row is None or row.version == 0 or (row.state is DanceState.ADDING and not row.meta):
            return None
        return dict(row.meta), set(row.meta.get("stored_files", []))
    meta = json.loads((folder / "dance.json").read_text())
    return meta, {p.name for p in folder.iterdir() if p.is_file()}


def dance_length_s(db: Db, name: str) -> float | None:
    """Seconds the dance lasts (its frames at its frame rate); None when it is unknown."""
    found = _meta(db, name)
    if found is None:
        return None
    meta = found[0]
    try:
        return int(meta["frames"]) / float(meta["fps"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


def stage_dance(db: Db, name: str) -> StageDance | None:
    found = _meta(db, name)
    if found is None:
        return None
    meta, files = found

    def url(filename: object) -> str | None:
        if not isinstance(filename, str) or filename not in files:
            return None
        return f"/api/dances/{quote(name)}/files/{quote(filename)}"

    keypoints = url(meta.get("keypoints", "keypoints.csv"))
    if keypoints is None:
        return None
    return StageDance(
        name=name,
        title=str(meta.get("title") or name),
        fps=float(meta["fps"]),
        width=int(meta["width"]),
        height=int(meta["height"]),
        frames=int(meta["frames"]),
        keypoints=keypoints,
        video=url(meta.get("video")),
        music=url(meta.get("audio")),
    )


def stage(db: Db, booth: str, default_dance: str) -> StageView:
    """The booth's latest capture (by its start), or only the clock when there is none."""
    row = db.scalar(
        select(Session)
        .where(
            Session.booth_id == booth,
            Session.capture_start_at.is_not(None),
            Session.state.in_(_SHOWN),
        )
        .order_by(Session.capture_start_at.desc())
        .limit(1)
    )
    now = time.time()
    if row is None:
        return StageView(server_time=now)
    verdict = db.get(CaptureQa, row.id)
    judged = verdict is not None and (
        row.captured_at is None or verdict.created_at >= row.captured_at
    )
    waiting = judged and verdict is not None and not verdict.passed and verdict.decision is None
    return StageView(
        server_time=now,
        session_id=row.id,
        state=row.state,
        start_at=row.capture_start_at,
        duration_s=row.capture_s,
        dance=stage_dance(db, row.dance or default_dance),
        qa_passed=verdict.passed if judged and verdict is not None else None,
        retake_reasons=list(verdict.report.get("reasons", [])) if waiting and verdict else [],
    )
