"""The quality gate's figures for the operator: per session (the dashboard's column) and
the booth's trend over the day."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session as Db

from cloud.api.schemas import QualityHour, QualityTrend, QualityView
from cloud.db.models import Rendition, Session
from cloud.jobs.queue import as_utc


def rendition_quality(db: Db, sessions: list[str]) -> dict[str, QualityView]:
    """Each session's rendition figures, by session (sessions without one are left out)."""
    out: dict[str, QualityView] = {}
    for i in range(0, len(sessions), 500):
        for r in db.scalars(
            select(Rendition).where(Rendition.session_id.in_(sessions[i : i + 500]))
        ):
            out[r.session_id] = QualityView(
                pose_error=r.pose_error,
                appearance=r.appearance,
                dancer_missing=r.dancer_missing,
                flicker=r.flicker,
                held=bool(r.review_reasons),
            )
    return out


def quality_today(db: Db, booth: str, now: datetime | None = None) -> QualityTrend:
    """The booth's renditions since midnight UTC, by hour, with median figures."""
    now = now or datetime.now(UTC)
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = db.scalars(
        select(Rendition)
        .join(Session, Session.id == Rendition.session_id)
        .where(Session.booth_id == booth, Rendition.created_at >= midnight)
        .order_by(Rendition.created_at)
    ).all()
    by_hour: dict[datetime, list[Rendition]] = defaultdict(list)
    for r in rows:
        by_hour[as_utc(r.created_at).replace(minute=0, second=0, microsecond=0)].append(r)
    hours = [
        QualityHour(
            hour=hour,
            renditions=len(group),
            held=sum(bool(r.review_reasons) for r in group),
            pose_error=_median([r.pose_error for r in group]),
            appearance=_median([r.appearance for r in group]),
            flicker=_median([r.flicker for r in group]),
        )
        for hour, group in sorted(by_hour.items())
    ]
    return QualityTrend(
        day=midnight.date().isoformat(),
        renditions=len(rows),
        held=sum(bool(r.review_reasons) for r in rows),
        hours=hours,
    )


def _median(values: list[float | None]) -> float | None:
    seen = [v for v in values if v is not None]
    return statistics.median(seen) if seen else None
