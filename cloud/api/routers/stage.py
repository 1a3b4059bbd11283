"""The booth's stage screen: the latest capture with its dance and QA verdict."""

from __future__ import annotations

from fastapi import APIRouter

from cloud.api import stage
from cloud.api.deps import Ctx, DbSession, Operator
from cloud.api.schemas import StageView

router = APIRouter(tags=["stage"])


@router.get("/api/booth/stage", responses={401: {"description": "not logged in"}})
def get_stage(_who: Operator, db: DbSession, ctx: Ctx) -> StageView:
    """What the stage screen shows now: the latest capture's shared start, its dance and
    where to fetch the dance's files, the API's clock, and capture QA's verdict."""
    return stage.stage(db, ctx.settings.booth, ctx.settings.worker.dance)
