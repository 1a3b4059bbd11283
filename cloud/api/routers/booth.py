"""The booth: nodes and their previews, calling the next visitor, capture, cancel, retake."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response, status

from cloud.api import visits
from cloud.api.deps import Ctx, DbSession, Operator
from cloud.api.schemas import CaptureStarted, NodeView, SessionRef, VisitorStatus
from protocol.ids import ID_PATTERN

Responses = dict[int | str, dict[str, Any]]

router = APIRouter(prefix="/api/booth", tags=["booth"])

_401: Responses = {401: {"description": "not logged in"}}
_4xx: Responses = {
    **_401,
    404: {"description": "unknown session"},
    409: {"description": "wrong state"},
    503: {"description": "the broker is unreachable"},
}


@router.get("/nodes", responses=_401)
def nodes(_who: Operator, db: DbSession, ctx: Ctx) -> list[NodeView]:
    with_preview = {
        v.id
        for v in visits.list_nodes(db, ctx.settings.booth, set())
        if ctx.link.preview(v.id) is not None
    }
    return visits.list_nodes(db, ctx.settings.booth, with_preview)


@router.get(
    "/nodes/{node_id}/preview.jpg",
    response_class=Response,
    responses={
        **_401,
        404: {"description": "no preview yet"},
        200: {"content": {"image/jpeg": {}}},
    },
)
def preview(
    node_id: Annotated[str, Path(pattern=ID_PATTERN, max_length=64)], _who: Operator, ctx: Ctx
) -> Response:
    jpeg = ctx.link.preview(node_id)
    if jpeg is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no preview from node {node_id} yet")
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post("/next", responses={**_401, 404: {"description": "nobody waiting"}})
def call_next(_who: Operator, db: DbSession, ctx: Ctx) -> VisitorStatus:
    row = visits.next_waiting(db, ctx.settings.booth)
    return visits.status(db, row.id)


@router.post("/capture", responses=_4xx)
def start_capture(body: SessionRef, _who: Operator, db: DbSession, ctx: Ctx) -> CaptureStarted:
    """Start the countdown: every node starts recording at the same ``start_at``."""
    api = ctx.settings.api
    command = visits.start_capture(db, body.session_id, api.countdown_s, api.capture_s)
    ctx.link.start_capture(ctx.settings.booth, command)  # raising rolls the state back
    return CaptureStarted(
        session_id=command.session, start_at=command.start_at, duration_s=command.duration_s
    )


@router.post("/cancel", responses=_4xx)
def cancel(body: SessionRef, _who: Operator, db: DbSession, ctx: Ctx) -> VisitorStatus:
    """Stop a capture in progress (every node drops it); the visitor stays in line."""
    return _send_back(body, db, ctx, "capture cancelled by the operator", only_capturing=True)


@router.post("/retake", responses=_4xx)
def retake(body: SessionRef, _who: Operator, db: DbSession, ctx: Ctx) -> VisitorStatus:
    """Throw away the take (capture, upload or queued work) and put the visitor back in line."""
    return _send_back(body, db, ctx, "retake requested by the operator")


def _send_back(
    body: SessionRef, db: DbSession, ctx: Ctx, reason: str, only_capturing: bool = False
) -> VisitorStatus:
    command = visits.retake(db, body.session_id, reason, only_capturing)
    ctx.link.cancel_capture(ctx.settings.booth, command)
    return visits.status(db, body.session_id)
