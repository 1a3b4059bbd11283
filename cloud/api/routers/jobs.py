"""Jobs: the queue with position, progress and ETA; retry and cancel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from cloud.api import visits
from cloud.api.deps import Ctx, DbSession, Operator
from cloud.api.schemas import JobView

Responses = dict[int | str, dict[str, Any]]

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

JobId = Annotated[int, Path(ge=1, le=2**53, description="the job's id")]
_4xx: Responses = {
    401: {"description": "not logged in"},
    404: {"description": "unknown job"},
    409: {"description": "wrong state"},
}


@router.get("", responses={401: {"description": "not logged in"}})
def list_jobs(_who: Operator, db: DbSession, ctx: Ctx) -> list[JobView]:
    return visits.list_jobs(db, ctx.queue.estimates())


@router.post("/{job_id}/retry", responses=_4xx)
def retry(job_id: JobId, _who: Operator, ctx: Ctx) -> JobView:
    job = ctx.queue.retry(job_id)
    return visits.job_view(job, None, None)


@router.post("/{job_id}/cancel", responses=_4xx)
def cancel(job_id: JobId, _who: Operator, ctx: Ctx) -> JobView:
    job = ctx.queue.cancel(job_id)
    return visits.job_view(job, None, None)
