"""The live mirror's lineup: which delivered visitors' models it wears ("dance as …"; several
rotate), chosen by the operator among those who agreed at the kiosk, and what the running
mirrors report. The mirror (``dancebooth cloud mirror``) reads the choice within a second."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter

from cloud.api.deps import Ctx, DbSession, Operator
from cloud.api.errors import ConflictError
from cloud.api.schemas import MirrorCandidate, MirrorReport, MirrorUpdate, MirrorView
from cloud.db.models import Session, utcnow
from cloud.mirror import lineup

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/booth/mirror", tags=["live mirror"])

_401: dict[int | str, dict[str, Any]] = {401: {"description": "not logged in"}}


@router.get("", responses=_401)
def get_mirror(_who: Operator, db: DbSession, ctx: Ctx) -> MirrorView:
    """The lineup (visitors still allowed), the visitors who may be picked, the mirrors."""
    return _view(db, ctx.settings.booth)


@router.put(
    "",
    responses={
        **_401,
        409: {
            "description": "a visitor who did not agree, whose consent expired, who is not"
            " delivered yet or whose model was deleted"
        },
    },
)
def put_mirror(body: MirrorUpdate, who: Operator, db: DbSession, ctx: Ctx) -> MirrorView:
    """Set the lineup: one visitor is "dance as …", several rotate, none is the booth's
    own dancer. The mirrors follow within a second."""
    booth = ctx.settings.booth
    try:
        chosen = lineup.choose(db, booth, body.wearers)
    except ValueError as exc:
        raise ConflictError(str(exc)) from None
    logger.info("operator %s set the live mirror's lineup to %s", who.name, chosen or "the booth's")
    db.flush()
    return _view(db, booth)


def _view(db: DbSession, booth: str) -> MirrorView:
    now = utcnow()
    wanted = [w.session_id for w in lineup.wearers(db, booth, now)]
    picks = lineup.candidates(db, booth, now)
    return MirrorView(
        wearers=wanted,
        candidates=[_candidate(s) for s in picks],
        mirrors=[
            MirrorReport(
                node=r.node_id,
                wearing=r.wearing,
                session_id=r.session_id,
                error=r.error,
                seen_at=r.seen_at,
                stale=lineup.is_stale(r, now),
            )
            for r in lineup.reports(db, booth)
        ],
    )


def _candidate(s: Session) -> MirrorCandidate:
    assert s.mirror_consent_until is not None
    return MirrorCandidate(
        session_id=s.id,
        email=s.email,
        dance=s.dance,
        delivered_at=s.delivered_at,
        consent_until=s.mirror_consent_until,
    )
