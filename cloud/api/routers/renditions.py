"""Renditions: the visitor's page behind the emailed link, the video, self-service
deletion; the operator's preview and review of a held rendition, and re-send (a
``deliver`` job)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from cloud.api import review, watch
from cloud.api.deps import Ctx, DbSession, Operator
from cloud.api.routers.visitors import SessionPath
from cloud.api.schemas import RenditionChecks, ReviewDecision, Reviewed, VisitorStatus
from cloud.db.engine import transaction
from cloud.db.models import Rendition
from cloud.db.states import SessionState
from cloud.delivery.ranges import plan_response, read_slice
from cloud.storage.local import LocalStorage

router = APIRouter(tags=["renditions"])

DELIVER = "deliver"
Token = Annotated[str, Path(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
_LINK: dict[int | str, dict[str, Any]] = {
    404: {"description": "unknown link"},
    410: {"description": "the link expired"},
}


def _open(db: DbSession, token: str) -> Rendition:
    return watch.open_rendition(db, token)


@router.get("/r/{token}", response_class=HTMLResponse, responses=_LINK)
def page(token: Token, request: Request, db: DbSession, ctx: Ctx) -> Response:
    row = _open(db, token)
    return ctx.templates.TemplateResponse(
        request,
        "rendition.html",
        {
            "booth": ctx.settings.booth,
            "token": token,
            "dance": row.dance,
            "expires": row.expires_at,
            "credentials": watch.content_credentials(ctx.storage, row.video_key),
            "allow_unsigned": ctx.settings.credentials.allow_unsigned,
        },
    )


@router.get(
    "/r/{token}/video.mp4",
    response_class=Response,
    responses={**_LINK, 206: {"content": {"video/mp4": {}}}, 416: {"description": "bad range"}},
)
def video(token: Token, request: Request, db: DbSession, ctx: Ctx) -> Response:
    """The MP4, with byte ranges so the browser can seek (S3: a presigned redirect)."""
    return _stream(ctx, _open(db, token).video_key, request)


def _stream(ctx: Ctx, key: str, request: Request) -> Response:
    if not isinstance(ctx.storage, LocalStorage):
        return RedirectResponse(ctx.storage.url(key, expires_s=900), status_code=307)
    path = ctx.storage.root / key
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the video file is missing")
    plan = plan_response(path.stat().st_size, request.headers.get("range"))
    body = read_slice(path, plan.start, plan.length) if plan.length else iter([b""])
    return StreamingResponse(body, status_code=plan.status, headers=plan.headers)


@router.post("/r/{token}/delete", responses=_LINK)
def delete_my_data(token: Token, db: DbSession, ctx: Ctx) -> VisitorStatus:
    """The visitor's "delete my data": frames, model, video and email, now."""
    row = _open(db, token)
    watch.delete_everything(db, ctx.storage, row.session_id, ctx.mailer)
    return VisitorStatus(id=row.session_id, state=SessionState.DELETED)


@router.post(
    "/api/renditions/{session_id}/resend",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        401: {"description": "not logged in"},
        404: {"description": "unknown session"},
        409: {"description": "nothing delivered yet, or an email to the visitor in flight"},
    },
)
def resend(session_id: SessionPath, _who: Operator, ctx: Ctx) -> Reviewed:
    """Email the visitor a fresh link (the old one stops working); sent in the background."""
    done = review.resend(ctx.factory, ctx.settings, session_id)
    ctx.mail.wake()  # committed: the flusher sends it now
    return Reviewed(id=session_id, state=done.state, mail=done.mail, detail=done.detail)


_OPERATOR: dict[int | str, dict[str, Any]] = {
    401: {"description": "not logged in"},
    404: {"description": "unknown session or no rendition"},
}


@router.get(
    "/api/renditions/{session_id}/video.mp4",
    response_class=Response,
    responses={**_OPERATOR, 206: {"content": {"video/mp4": {}}}, 416: {"description": "bad range"}},
)
def preview(session_id: SessionPath, request: Request, _who: Operator, ctx: Ctx) -> Response:
    """The operator's preview of a session's stored video (held or delivered), seekable."""
    with ctx.factory() as db:
        key = review.video_key(db, session_id)
    return _stream(ctx, key, request)


@router.get("/api/renditions/{session_id}/checks", responses=_OPERATOR)
def rendition_checks(session_id: SessionPath, _who: Operator, ctx: Ctx) -> RenditionChecks:
    """The quality gate's figures, limits and reasons for a session's rendition."""
    with ctx.factory() as db:
        return review.checks(db, ctx.storage, ctx.settings, session_id)


@router.get(
    "/api/renditions/{session_id}/strip.jpg",
    response_class=Response,
    responses={**_OPERATOR, 200: {"content": {"image/jpeg": {}}}},
)
def rendition_strip(session_id: SessionPath, _who: Operator, ctx: Ctx) -> Response:
    """The worst checked frames, the driving (grey) and detected (green) skeletons over them."""
    with ctx.factory() as db:
        jpeg = review.strip_jpeg(db, ctx.storage, session_id)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post(
    "/api/renditions/{session_id}/review",
    responses={
        **_OPERATOR,
        409: {"description": "the session is not waiting for review"},
        422: {"description": "a bad decision or no reason for a rejection"},
    },
)
def decide(session_id: SessionPath, body: ReviewDecision, _who: Operator, ctx: Ctx) -> Reviewed:
    """Approve a held rendition (link emailed now), send the visitor to retake, or reject it."""
    if body.decision == "approve":
        done = review.approve(ctx.factory, ctx.storage, ctx.settings, ctx.mailer, session_id)
        return Reviewed(id=session_id, state=done.state, mail=done.mail, detail=done.detail)
    with transaction(ctx.factory) as db:
        new = review.reject(db, session_id, body.reason, retake=body.decision == "retake")
    return Reviewed(id=session_id, state=new)
