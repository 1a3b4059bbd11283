"""Deleting everything from this event, from the dashboard: plan, then confirm with its code."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from cloud import node_erasure
from cloud.api.deps import Ctx, DbSession, Operator
from cloud.api.schemas import NodeErasureView, SessionErasureView
from cloud.erasure import erase_event, plan_erasure

router = APIRouter(prefix="/api/booth/erasure", tags=["booth"])

_401: dict[int | str, dict[str, Any]] = {401: {"description": "not logged in"}}


class ErasurePlanView(BaseModel):
    booth: str
    sessions: int = Field(description="visitor sessions that would be erased")
    in_progress: int = Field(description="of those, sessions a capture or job is working on")
    dead_letters: int
    code: str = Field(description="send it back to confirm exactly this erasure")


class ErasureConfirm(BaseModel):
    code: str = Field(min_length=1, max_length=32)
    booth: str = Field(description="the booth id, typed by the operator as a second check")


class ErasureDone(BaseModel):
    booth: str
    sessions: int
    objects: int
    dead_letters: int
    failed: dict[str, str] = Field(description="sessions the store failed on: erase again")
    nodes: dict[str, dict[str, int]] = Field(
        description="per node: sessions it confirmed erasing from its spool (erased, unknown)"
        " and those not confirmed yet (pending; an offline node confirms on reconnecting)"
    )


@router.get("", responses=_401)
def plan(_who: Operator, db: DbSession, ctx: Ctx) -> ErasurePlanView:
    """Step 1: what deleting everything from this event would remove now."""
    p = plan_erasure(db, ctx.settings.booth)
    return ErasurePlanView(
        booth=p.booth,
        sessions=len(p.sessions),
        in_progress=len(p.busy),
        dead_letters=p.dead_letters,
        code=p.code,
    )


@router.post(
    "",
    responses={**_401, 409: {"description": "the code or booth does not match the plan now"}},
)
def erase(body: ErasureConfirm, who: Operator, ctx: Ctx) -> ErasureDone:
    """Step 2: erase every visitor of the booth, if the code still matches the plan."""
    report = erase_event(
        ctx.factory, ctx.storage, ctx.settings.booth, body.code, who.name, typed=body.booth
    )
    with ctx.factory() as db:
        nodes = node_erasure.booth_summary(db, ctx.settings.booth)
    return ErasureDone(
        nodes=nodes,
        booth=report.booth,
        sessions=len(report.erased),
        objects=report.objects,
        dead_letters=report.dead_letters,
        failed=report.failed,
    )


@router.get("/nodes", responses=_401)
def node_confirmations(
    _who: Operator, db: DbSession, ctx: Ctx, limit: int = 50
) -> list[SessionErasureView]:
    """The latest deletions and which nodes confirmed erasing them from their spools."""
    return [
        SessionErasureView(
            session_id=sid,
            nodes=[NodeErasureView(**vars(c)) for c in node_erasure.confirmations(db, sid)],
        )
        for sid in node_erasure.recent(db, ctx.settings.booth, min(max(limit, 1), 500))
    ]
