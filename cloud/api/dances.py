"""What the Dances page does: list the library with each dance's report and place in the
booth's rotation, reserve a name for an upload, re-run an add, delete, set the rotation;
and what the kiosk offers. Functions raise :mod:`cloud.dances` errors (404 / 409)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as Db

from cloud.api.dance_schemas import AddOptions, DanceView, Offered, OfferedDance, RotationView
from cloud.dances import DanceConflictError, DanceNotFoundError
from cloud.dances.adder import STALLED_AFTER_S, remove_upload
from cloud.dances.library import builtin_dances, dance_prefix, is_builtin
from cloud.dances.rotation import Mode, is_enabled_anywhere, rotation, set_rotation
from cloud.db.models import Dance, DanceState, Session, utcnow
from cloud.db.states import SessionState
from cloud.jobs.queue import as_utc
from cloud.settings import CloudSettings
from cloud.storage import Storage
from common.reference import REFERENCE_DIR, ReferenceDance

# A visitor in one of these states will still be rendered performing their dance.
WILL_RENDER = (
    SessionState.REGISTERED,
    SessionState.RETAKE,
    SessionState.CAPTURING,
    SessionState.UPLOADED,
    SessionState.QUEUED,
    SessionState.TRAINING,
    SessionState.RENDERING,
)


def runner() -> str:
    return socket.gethostname()[:128]


def _builtin_view(d: ReferenceDance, place: dict[str, int]) -> DanceView:
    files = sorted(p.name for p in (REFERENCE_DIR / d.name).iterdir() if p.is_file())
    return DanceView(
        name=d.name,
        title=d.title,
        builtin=True,
        status="ready",
        available=True,
        enabled=d.name in place,
        position=place.get(d.name),
        frames=d.frames,
        fps=d.fps,
        duration_s=round(d.duration_s, 2),
        bpm=d.bpm,
        width=d.width,
        height=d.height,
        report=d.quality,
        files=files,
    )


def _row_view(row: Dance, place: dict[str, int]) -> DanceView:
    meta = row.meta or {}
    status: str = row.state.value
    if row.state is DanceState.ADDING:
        quiet = utcnow() - as_utc(row.updated_at)
        # An upload that never finished (the API stopped) frees its name after an hour.
        limit = STALLED_AFTER_S * (6 if row.upload is None else 1)
        if quiet > timedelta(seconds=limit):
            status = "stalled"
        elif row.upload is None:
            status = "uploading"
    upload = Path(row.upload) if row.upload else None
    return DanceView(
        name=row.name,
        title=row.title or row.name,
        builtin=False,
        status=status,
        available=row.version > 0,
        enabled=row.name in place,
        position=place.get(row.name),
        forced=row.forced,
        frames=meta.get("frames"),
        fps=meta.get("fps"),
        duration_s=meta.get("duration_s"),
        bpm=meta.get("bpm"),
        width=meta.get("width"),
        height=meta.get("height"),
        progress=row.progress,
        eta_s=row.eta_s,
        error=row.error,
        report=row.report,
        options=row.options or {},
        can_rerun=row.runner == runner() and upload is not None and upload.is_file(),
        files=list(meta.get("stored_files", [])),
    )


def _places(db: Db, settings: CloudSettings) -> dict[str, int]:
    current = rotation(db, settings.booth, settings.worker.dance)
    return {name: i for i, name in enumerate(current.dances)}


def list_dances(db: Db, settings: CloudSettings) -> list[DanceView]:
    place = _places(db, settings)
    views = [_builtin_view(d, place) for d in builtin_dances()]
    views += [_row_view(r, place) for r in db.scalars(select(Dance).order_by(Dance.created_at))]
    return views


def get_dance(db: Db, settings: CloudSettings, name: str) -> DanceView:
    place = _places(db, settings)
    if is_builtin(name):
        return next(_builtin_view(d, place) for d in builtin_dances() if d.name == name)
    return _row_view(_row(db, name), place)


def _row(db: Db, name: str) -> Dance:
    row = db.get(Dance, name)
    if row is None:
        raise DanceNotFoundError(f"no dance {name!r}")
    return row


def reserve(db: Db, name: str, title: str, options: AddOptions) -> None:
    """Claim ``name`` for an upload (status uploading); a taken name is a 409."""
    if is_builtin(name):
        raise DanceConflictError(f"{name!r} is a built-in dance: pick another name")
    if db.get(Dance, name) is not None:
        raise DanceConflictError(
            f"a dance named {name!r} exists: pick another name, or delete that one first"
        )
    try:
        with db.begin_nested():
            db.add(Dance(name=name, title=title, options=options.model_dump(), runner=runner()))
    except IntegrityError:
        raise DanceConflictError(f"{name!r} was just taken by another upload") from None


def attach_upload(db: Db, name: str, path: Path) -> None:
    row = _row(db, name)
    row.upload, row.updated_at = str(path), utcnow()


def rerun(db: Db, name: str, options: AddOptions) -> None:
    """Mark the dance for another add with ``options`` (trim, person, force)."""
    if is_builtin(name):
        raise DanceConflictError(f"{name!r} is built in: it has no uploaded video to re-add")
    row = _row(db, name)
    if row.state is DanceState.ADDING and _row_view(row, {}).status != "stalled":
        raise DanceConflictError(f"{name!r} is being added now: wait for its report")
    upload = Path(row.upload) if row.upload else None
    if row.runner != runner() or upload is None or not upload.is_file():
        raise DanceConflictError(
            f"the video of {name!r} is not on this server (it was uploaded to "
            f"{row.runner or 'another'}): upload it again under a new name"
        )
    if options.mirror:
        _check_mirror(db, name)
    row.options, row.state, row.progress, row.eta_s, row.error = (
        options.model_dump(),
        DanceState.ADDING,
        0.0,
        None,
        None,
    )
    row.updated_at = utcnow()


def _check_mirror(db: Db, name: str) -> None:
    """The mirrored copy is stored as the dance ``<name>-mirror``: that name must be free
    or already this dance's mirror."""
    mirror = f"{name}-mirror"
    if len(mirror) > 64:
        raise DanceConflictError(f"{name!r} is too long for a mirrored copy ({mirror!r})")
    row = db.get(Dance, mirror)
    if is_builtin(mirror) or (row is not None and row.options.get("mirror_of") != name):
        raise DanceConflictError(f"the mirrored copy's name {mirror!r} is taken")


def delete_dance(db: Db, storage: Storage, settings: CloudSettings, name: str) -> int:
    """Delete an added dance (files, upload, row); returns the stored files deleted."""
    if is_builtin(name):
        raise DanceConflictError(
            f"{name!r} ships with the booth (reference_videos/) and is kept: disable it instead"
        )
    row = _row(db, name)
    if row.state is DanceState.ADDING and _row_view(row, {}).status not in ("stalled",):
        raise DanceConflictError(f"{name!r} is being added now: wait for its report")
    booths = is_enabled_anywhere(db, name)
    if booths:
        raise DanceConflictError(
            f"{name!r} is enabled at {', '.join(booths)}: disable it first (rotation)"
        )
    waiting = db.scalar(
        select(func.count()).where(Session.dance == name, Session.state.in_(WILL_RENDER))
    )
    if waiting:
        raise DanceConflictError(
            f"{waiting} visitor(s) will still be rendered performing {name!r}: delete it "
            "once their videos are made"
        )
    db.delete(row)
    db.flush()
    objects = storage.delete_prefix(dance_prefix(name))
    remove_upload(settings.dances.upload_dir, name)
    return objects


def usable(db: Db) -> Callable[[str], str | None]:
    """Why a dance cannot be enabled (None: it can)."""

    def why_not(name: str) -> str | None:
        if is_builtin(name):
            return None
        row = db.get(Dance, name)
        if row is None:
            return f"no dance {name!r}"
        if row.version == 0:
            return f"{name!r} has no stored version yet ({row.state.value}): add it first"
        return None

    return why_not


def get_rotation(db: Db, settings: CloudSettings) -> RotationView:
    r = rotation(db, settings.booth, settings.worker.dance)
    return RotationView(mode=r.mode, dances=r.dances, configured=r.configured)


def put_rotation(db: Db, settings: CloudSettings, mode: Mode, names: list[str]) -> RotationView:
    r = set_rotation(db, settings.booth, mode, names, usable(db))
    return RotationView(mode=r.mode, dances=r.dances, configured=r.configured)


def offered(db: Db, settings: CloudSettings) -> Offered:
    names = rotation(db, settings.booth, settings.worker.dance).dances
    titles = {v.name: v for v in list_dances(db, settings)}
    dances = [
        OfferedDance(name=n, title=titles[n].title, duration_s=titles[n].duration_s)
        for n in names
        if n in titles
    ]
    return Offered(choose=len(dances) > 1, dances=dances)


def clean_stale_reservation(db: Db, name: str) -> None:
    """Drop a name reserved by an upload that did not arrive."""
    row = db.get(Dance, name)
    if row is not None and row.upload is None and row.version == 0:
        db.delete(row)
