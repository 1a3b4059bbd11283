"""Dances: the operators' library (upload a video, its add's progress and quality report,
re-run with trim / person / force, delete, the files), the booth's rotation, and the
dances the kiosk offers."""

from __future__ import annotations

import mimetypes
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from cloud.api import dances, uploads
from cloud.api.dance_schemas import (
    AddOptions,
    DanceName,
    DanceView,
    DeletedDance,
    Offered,
    RotationIn,
    RotationView,
)
from cloud.api.deps import Ctx, DbSession, Operator
from cloud.dances import DanceNotFoundError
from cloud.dances.library import is_builtin, stored_key
from cloud.db.engine import transaction
from cloud.db.models import Dance
from cloud.delivery.ranges import plan_response, read_slice
from cloud.storage.local import LocalStorage
from common.reference import REFERENCE_DIR
from protocol.ids import ID_PATTERN

Responses = dict[int | str, dict[str, Any]]

router = APIRouter(tags=["dances"])

NamePath = Annotated[
    str, Path(pattern=ID_PATTERN, max_length=64, description="the dance", examples=["wave-party"])
]
FilePath = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", examples=["keypoints.csv"])
]
_401: Responses = {401: {"description": "not logged in"}}
_404: Responses = {**_401, 404: {"description": "unknown dance"}}
_409: Responses = {**_404, 409: {"description": "built in, being added, enabled or in use"}}
VIDEO_BODY = {
    "requestBody": {
        "required": True,
        "description": "the video file itself (not a form), streamed",
        "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in
                    uploads.CONTENT_TYPES},
    }
}  # fmt: skip


@router.get("/api/dances", responses=_401)
def list_dances(_who: Operator, db: DbSession, ctx: Ctx) -> list[DanceView]:
    return dances.list_dances(db, ctx.settings)


@router.post(
    "/api/dances",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="upload_dance",
    openapi_extra=VIDEO_BODY,
    responses={
        **_401,
        409: {"description": "a dance of that name exists"},
        413: {"description": "the video is larger than dances.max_upload_mb"},
        415: {"description": "not a video file"},
        422: {"description": "a bad name, title or option, or an empty upload"},
    },
)
async def upload(
    request: Request,
    _who: Operator,
    ctx: Ctx,
    name: Annotated[DanceName, Query(description="the new dance's name")],
    title: Annotated[str, Query(max_length=200, description="human title")] = "",
) -> DanceView:
    """Upload a dance video as the request body; its add then runs in the background
    (progress, ETA and the quality report in ``GET /api/dances/{name}``)."""
    settings = ctx.settings.dances
    max_bytes = settings.max_upload_mb * 1_000_000
    uploads.check_content_type(request.headers.get("content-type"))
    uploads.check_length(request.headers.get("content-length"), max_bytes)
    await run_in_threadpool(_reserve, ctx, name, title.strip())
    try:
        stem = FsPath(settings.upload_dir) / name / "upload"
        path = await uploads.save_upload(request.stream(), stem, max_bytes)
    except BaseException:
        await run_in_threadpool(_unreserve, ctx, name)
        raise
    return await run_in_threadpool(_start, ctx, name, path)


def _reserve(ctx: Ctx, name: str, title: str) -> None:
    with transaction(ctx.factory) as db:
        dances.reserve(db, name, title, AddOptions())


def _unreserve(ctx: Ctx, name: str) -> None:
    with transaction(ctx.factory) as db:
        dances.clean_stale_reservation(db, name)
    dances.remove_upload(ctx.settings.dances.upload_dir, name)


def _start(ctx: Ctx, name: str, path: FsPath) -> DanceView:
    with transaction(ctx.factory) as db:
        dances.attach_upload(db, name, path)
    ctx.adder.submit(name)
    with ctx.factory() as db:
        return dances.get_dance(db, ctx.settings, name)


@router.get("/api/dances/{name}", responses=_404)
def get_dance(name: NamePath, _who: Operator, db: DbSession, ctx: Ctx) -> DanceView:
    return dances.get_dance(db, ctx.settings, name)


@router.post(
    "/api/dances/{name}/add",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**_409, 422: {"description": "bad options"}},
)
def rerun(name: NamePath, body: AddOptions, _who: Operator, ctx: Ctx) -> DanceView:
    """Add the dance again from its video: trim, pick the person, or keep it anyway (force)."""
    with transaction(ctx.factory) as db:
        dances.rerun(db, name, body)
    ctx.adder.submit(name)
    with ctx.factory() as db:
        return dances.get_dance(db, ctx.settings, name)


@router.delete("/api/dances/{name}", responses=_409)
def delete_dance(name: NamePath, _who: Operator, db: DbSession, ctx: Ctx) -> DeletedDance:
    """Delete an added dance: its stored files, its video and its report. Built-in dances
    stay (disable them instead); an enabled dance must be disabled first."""
    objects = dances.delete_dance(db, ctx.storage, ctx.settings, name)
    return DeletedDance(name=name, objects=objects)


@router.get(
    "/api/dances/{name}/files/{filename}",
    response_class=Response,
    responses={
        **_404,
        206: {"content": {"video/mp4": {}, "text/csv": {}}},
        416: {"description": "bad range"},
    },
)
def dance_file(
    name: NamePath, filename: FilePath, request: Request, _who: Operator, ctx: Ctx
) -> Response:
    """A file of the dance (keypoints.csv, music, kept video, preview), with byte ranges."""
    kind = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    if is_builtin(name):
        return _serve(REFERENCE_DIR / name / filename, request, kind)
    with ctx.factory() as db:
        row = db.get(Dance, name)
        key = stored_key(row, filename) if row is not None else None
        if row is None or key is None or filename not in row.meta.get("stored_files", []):
            raise DanceNotFoundError(f"dance {name!r} has no stored file {filename!r}")
    if not isinstance(ctx.storage, LocalStorage):
        return RedirectResponse(ctx.storage.url(key, expires_s=900), status_code=307)
    return _serve(ctx.storage.root / key, request, kind)


def _serve(path: FsPath, request: Request, kind: str) -> Response:
    if not path.is_file():
        raise DanceNotFoundError(f"no file {path.name!r} for this dance")
    plan = plan_response(path.stat().st_size, request.headers.get("range"), kind)
    body = read_slice(path, plan.start, plan.length) if plan.length else iter([b""])
    return StreamingResponse(body, status_code=plan.status, headers=plan.headers)


@router.get("/api/booth/rotation", responses=_401)
def get_rotation(_who: Operator, db: DbSession, ctx: Ctx) -> RotationView:
    return dances.get_rotation(db, ctx.settings)


@router.put(
    "/api/booth/rotation",
    responses={**_401, 409: {"description": "a dance that is not stored, or twice"}},
)
def put_rotation(body: RotationIn, _who: Operator, db: DbSession, ctx: Ctx) -> RotationView:
    """Enable exactly these dances at the booth, in this order; visitors who do not choose
    at the kiosk get them in turn (order) or at random."""
    return dances.put_rotation(db, ctx.settings, body.mode, body.dances)


@router.get("/api/kiosk/dances")
def offered(db: DbSession, ctx: Ctx) -> Offered:
    """The dances a visitor may choose from at the kiosk (the booth's enabled ones)."""
    return dances.offered(db, ctx.settings)
