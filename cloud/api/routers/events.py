"""Server-sent events: session, job and node changes for the operator dashboard."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from cloud.api.deps import Ctx, Operator

router = APIRouter(prefix="/api", tags=["events"])


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, 401: {"description": "not logged in"}},
)
def events(_who: Operator, ctx: Ctx) -> StreamingResponse:
    """``event: session|job|node`` followed by the changed row as JSON."""
    return StreamingResponse(
        ctx.events.stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
