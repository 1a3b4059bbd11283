"""Renditions: re-send a visitor's video link (a ``deliver`` job)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from cloud.api import visits
from cloud.api.deps import Ctx, DbSession, Operator
from cloud.api.errors import NotFoundError
from cloud.api.routers.visitors import SessionPath
from cloud.api.schemas import JobView
from cloud.db.states import SessionState

router = APIRouter(prefix="/api/renditions", tags=["renditions"])

DELIVER = "deliver"


@router.post(
    "/{session_id}/resend",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        401: {"description": "not logged in"},
        404: {"description": "unknown session"},
        409: {"description": "nothing delivered yet"},
    },
)
def resend(session_id: SessionPath, _who: Operator, db: DbSession, ctx: Ctx) -> JobView:
    """Queue a job that e-mails the visitor their link again."""
    try:
        row = visits.get_session(db, session_id)
    except NotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    if row.state is not SessionState.DELIVERED:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"session {session_id} is {row.state}: only a delivered video can be re-sent",
        )
    job = ctx.queue.enqueue(session_id, DELIVER, queue_session=False)
    return visits.job_view(job, None, None)
