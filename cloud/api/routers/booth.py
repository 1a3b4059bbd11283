"""The booth: nodes and their previews, calling the next visitor, capture, cancel, retake,
and the nodes' clean plates."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response, status

from cloud.api import visits
from cloud.api.clocks import capture_refusal
from cloud.api.deps import Ctx, DbSession, Operator
from cloud.api.errors import ConflictError
from cloud.api.quality import quality_today
from cloud.api.schemas import (
    BoothSettingsUpdate,
    BoothSettingsView,
    CaptureStarted,
    NodeView,
    PlateRequest,
    PlateRequested,
    QualityTrend,
    SessionRef,
    VisitorStatus,
)
from cloud.db.booths import (
    BoothLook,
    booth_capture_mode,
    booth_look,
    set_booth_capture_mode,
    set_booth_look,
)
from protocol.ids import ID_PATTERN
from protocol.messages import PlateTake

Responses = dict[int | str, dict[str, Any]]

router = APIRouter(prefix="/api/booth", tags=["booth"])

_401: Responses = {401: {"description": "not logged in"}}
_4xx: Responses = {
    **_401,
    404: {"description": "unknown session"},
    409: {"description": "wrong state, or a node's clock too far off to start a capture"},
    503: {"description": "the broker is unreachable"},
}


@router.get("/settings", responses=_401)
def get_settings(_who: Operator, db: DbSession, ctx: Ctx) -> BoothSettingsView:
    """The booth's own settings: its name (on the renditions' intro card), layout and
    capture mode."""
    booth = ctx.settings.booth
    return _settings_view(booth_look(db, booth), booth_capture_mode(db, booth), ctx)


@router.put("/settings", responses=_401)
def put_settings(
    body: BoothSettingsUpdate, _who: Operator, db: DbSession, ctx: Ctx
) -> BoothSettingsView:
    """Change the booth's rendition layout, name and/or capture mode; renditions rendered
    next, and captures started next, use them."""
    booth = ctx.settings.booth
    if body.capture_mode is not None:
        set_booth_capture_mode(db, booth, body.capture_mode)
    mode = booth_capture_mode(db, booth)  # read before set_booth_look commits
    look = set_booth_look(db, booth, layout=body.layout, name=body.name)
    return _settings_view(look, mode, ctx)


def _settings_view(look: BoothLook, booth_mode: str | None, ctx: Ctx) -> BoothSettingsView:
    layout = "side-by-side" if look.layout == "side-by-side" else "solo"
    mode = booth_mode or ctx.settings.api.capture_mode
    capture_mode = "free" if mode == "free" else "guided"
    return BoothSettingsView(
        booth=look.id, name=look.name, layout=layout, capture_mode=capture_mode
    )


@router.get("/quality", responses=_401)
def quality(db: DbSession, _who: Operator, ctx: Ctx) -> QualityTrend:
    """Today's renditions at this booth by hour (UTC): counts, held, median figures."""
    return quality_today(db, ctx.settings.booth)


@router.get("/nodes", responses=_401)
def nodes(_who: Operator, db: DbSession, ctx: Ctx) -> list[NodeView]:
    with_preview = {
        v.id
        for v in visits.list_nodes(db, ctx.settings.booth, set())
        if ctx.link.preview(v.id) is not None
    }
    views = visits.list_nodes(db, ctx.settings.booth, with_preview)
    return [_with_clock(v, ctx) for v in views]


def _with_clock(view: NodeView, ctx: Ctx) -> NodeView:
    reading = ctx.link.clocks.get(view.id)
    if reading is None:
        return view
    return view.model_copy(
        update={
            "clock_offset_s": reading.offset_s,
            "clock_error_s": reading.delay_s / 2,
            "clock_warning": abs(reading.offset_s) > ctx.settings.clock.warn_s,
        }
    )


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
    """Start the countdown: every node starts recording at the same ``start_at``, for the
    visitor's dance's length in guided mode (at most ``api.guided_max_s``), else for
    ``api.capture_s``.

    Refused (409) while an online node's clock is off by more than ``clock.refuse_s``: it
    would film the wrong seconds, or ignore the capture."""
    api = ctx.settings.api
    length = visits.capture_length(db, body.session_id, api, ctx.settings.worker.dance)
    online = [v.id for v in visits.list_nodes(db, ctx.settings.booth, set()) if v.online]
    refusal = capture_refusal(
        ctx.link.clocks,
        online,
        countdown_s=api.countdown_s,
        duration_s=length,
        refuse_s=ctx.settings.clock.refuse_s,
    )
    if refusal is not None:
        raise ConflictError(refusal)
    command = visits.start_capture(db, ctx.storage, body.session_id, api.countdown_s, length)
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


@router.post(
    "/plate",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**_401, 503: {"description": "the broker is unreachable"}},
)
def take_plate(body: PlateRequest, _who: Operator, ctx: Ctx) -> PlateRequested:
    """Take the clean plate now (every node, or ``node``): clear the booth first. A node
    that is capturing takes it when the capture ends; its status shows the new plate."""
    ctx.link.take_plate(ctx.settings.booth, PlateTake(node=body.node))
    return PlateRequested(node=body.node)


def _send_back(
    body: SessionRef, db: DbSession, ctx: Ctx, reason: str, only_capturing: bool = False
) -> VisitorStatus:
    command = visits.retake(db, body.session_id, reason, only_capturing)
    ctx.link.cancel_capture(ctx.settings.booth, command)
    return visits.status(db, body.session_id)
