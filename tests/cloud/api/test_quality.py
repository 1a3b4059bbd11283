"""The dashboard's quality figures: a column per visitor and the booth's trend today."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from cloud.api.quality import quality_today
from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_session
from cloud.db.models import Rendition
from cloud.db.states import SessionState
from tests.cloud.api.conftest import Booth


def _rendition(booth: Booth, sid: str, at: datetime, pose: float, held: bool) -> None:
    state = SessionState.NEEDS_REVIEW if held else SessionState.DELIVERED
    with transaction(session_factory(booth.engine)) as db:
        ensure_session(db, "booth1", sid, state)
        db.add(
            Rendition(
                session_id=sid,
                video_key=f"sessions/{sid}/renditions/d.mp4",
                pose_error=pose,
                appearance=0.3,
                dancer_missing=0.5 if held else 0.0,
                flicker=0.4,
                review_reasons="no dancer found" if held else None,
                created_at=at,
            )
        )


def test_each_visitor_row_carries_the_renditions_figures(
    operator: TestClient, booth: Booth
) -> None:
    now = datetime.now(UTC)
    _rendition(booth, "sgood", now, 0.1, held=False)
    _rendition(booth, "sheld", now, 0.3, held=True)
    rows = {v["id"]: v for v in operator.get("/api/visitors").json()}
    assert rows["sgood"]["quality"]["pose_error"] == 0.1
    assert rows["sgood"]["quality"]["held"] is False
    assert rows["sheld"]["quality"] == {
        "pose_error": 0.3,
        "appearance": 0.3,
        "dancer_missing": 0.5,
        "flicker": 0.4,
        "held": True,
    }


def test_the_trend_counts_todays_renditions_by_hour_with_medians(
    operator: TestClient, client: TestClient, booth: Booth
) -> None:
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    _rendition(booth, "s1", noon + timedelta(minutes=5), 0.1, held=False)
    _rendition(booth, "s2", noon + timedelta(minutes=40), 0.3, held=True)
    _rendition(booth, "s3", noon + timedelta(hours=1, minutes=1), 0.2, held=False)
    _rendition(booth, "s4", noon - timedelta(days=1), 0.9, held=True)  # yesterday
    with session_factory(booth.engine)() as db:
        trend = quality_today(db, "booth1", noon + timedelta(hours=2))
    assert (trend.renditions, trend.held) == (3, 1)
    assert [(h.hour.hour, h.renditions, h.held) for h in trend.hours] == [(12, 2, 1), (13, 1, 0)]
    assert trend.hours[0].pose_error == 0.2  # the median of 0.1 and 0.3
    assert client.get("/api/booth/quality").status_code == 401
    assert operator.get("/api/booth/quality").status_code == 200
