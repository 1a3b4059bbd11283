"""Visitors: kiosk registration (public, rate-limited), status, the operator's list, deletion."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from cloud import node_erasure
from cloud.api import visits, watch
from cloud.api.deps import ClientIp, Ctx, DbSession, Operator
from cloud.api.schemas import (
    NodeErasureView,
    Registration,
    SessionId,
    VisitorDeleted,
    VisitorStatus,
    VisitorView,
)
from cloud.dances.rotation import assign

router = APIRouter(prefix="/api/visitors", tags=["visitors"])

SessionPath = Annotated[SessionId, Path(description="the visitor's session id")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"description": "the chosen dance is not offered now"},
        422: {"description": "no consent or a bad email"},
        429: {"description": "too many registrations from this device"},
    },
)
def register(body: Registration, db: DbSession, ctx: Ctx, ip: ClientIp) -> VisitorStatus:
    wait = ctx.kiosk_limit.retry_after(ip)
    if wait:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many registrations from this device; wait a minute",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    s = ctx.settings
    dance = assign(db, s.booth, s.worker.dance, body.dance)
    hours = s.mirror.consent_hours if body.mirror_consent else None
    row = visits.register(db, s.booth, body.email, dance, hours)
    return visits.status(db, row.id)


@router.get("/{session_id}/status", responses={404: {"description": "unknown session"}})
def visitor_status(session_id: SessionPath, db: DbSession) -> VisitorStatus:
    return visits.status(db, session_id)


@router.get("", responses={401: {"description": "not logged in"}})
def list_visitors(_who: Operator, db: DbSession, ctx: Ctx) -> list[VisitorView]:
    jobs = visits.list_jobs(db, ctx.queue.estimates())
    return visits.list_visitors(db, ctx.settings.booth, jobs)


@router.delete(
    "/{session_id}",
    responses={
        401: {"description": "not logged in"},
        404: {"description": "unknown session"},
        409: {"description": "cannot delete now"},
    },
)
def delete_visitor(
    session_id: SessionPath, _who: Operator, db: DbSession, ctx: Ctx
) -> VisitorDeleted:
    """Erase the visitor's email, frames, model, video and jobs (their deletion request),
    and ask every node of the booth to erase the frames from its spool."""
    watch.delete_everything(db, ctx.storage, session_id, ctx.mailer)
    nodes = [NodeErasureView(**vars(c)) for c in node_erasure.confirmations(db, session_id)]
    return VisitorDeleted(id=session_id, state=visits.SessionState.DELETED, nodes=nodes)
