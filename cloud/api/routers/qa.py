"""Capture QA: a take's verdict, the operator's accept or retake, the booth's auto-accept."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path

from cloud.api import qa, visits
from cloud.api.deps import Ctx, DbSession, Operator
from cloud.api.schemas import QaDecide, QaSettingsUpdate, QaSettingsView, QaView, SessionId
from cloud.qa.gate import record_retake

logger = logging.getLogger(__name__)

router = APIRouter(tags=["capture QA"])

SessionPath = Annotated[SessionId, Path(description="the visitor's session id")]
_401: dict[int | str, dict[str, Any]] = {401: {"description": "not logged in"}}


@router.get(
    "/api/visitors/{session_id}/qa", responses={**_401, 404: {"description": "no verdict yet"}}
)
def get_qa(session_id: SessionPath, _who: Operator, db: DbSession) -> QaView:
    """Capture QA's verdict on the session's latest take, with every score."""
    visits.get_session(db, session_id)
    return qa.get(db, session_id)


@router.post(
    "/api/visitors/{session_id}/qa",
    responses={
        **_401,
        404: {"description": "unknown session, or no verdict yet"},
        409: {"description": "the take is not waiting for a QA decision"},
        422: {"description": "a decision other than accept or retake"},
    },
)
def decide(
    session_id: SessionPath, body: QaDecide, who: Operator, db: DbSession, ctx: Ctx
) -> QaView:
    """Accept the take (queue its fine-tune anyway; logged with the scores) or send the
    visitor back in line to dance again."""
    visits.get_session(db, session_id)
    qa.get(db, session_id)
    if body.decision == "accept":
        return qa.accept(db, session_id, who.name, ctx.settings.uploader.max_attempts)
    qa.check_retake(db, session_id)
    command = visits.retake(db, session_id, "retake suggested by capture QA")
    record_retake(db, session_id, who.name)
    ctx.link.cancel_capture(ctx.settings.booth, command)
    return qa.get(db, session_id)


@router.get("/api/booth/qa", responses=_401)
def get_qa_settings(_who: Operator, db: DbSession, ctx: Ctx) -> QaSettingsView:
    booth = ctx.settings.booth
    return QaSettingsView(
        booth=booth, auto_accept=qa.auto_accept(db, booth, ctx.settings.qa.auto_accept)
    )


@router.put("/api/booth/qa", responses={**_401, 422: {"description": "not a boolean"}})
def put_qa_settings(
    body: QaSettingsUpdate, who: Operator, db: DbSession, ctx: Ctx
) -> QaSettingsView:
    """Switch auto-accept: queue every take's fine-tune even when QA suggests a retake."""
    booth = ctx.settings.booth
    qa.set_auto_accept(db, booth, body.auto_accept)
    logger.info(
        "operator %s set capture QA auto-accept to %s at %s", who.name, body.auto_accept, booth
    )
    return QaSettingsView(booth=booth, auto_accept=body.auto_accept)
