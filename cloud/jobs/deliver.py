"""The worker's last step: the quality gate, then the link through the one delivery path.

A rendition that passes the gate gets its link recorded and its email queued in the same
transaction that stores the rendition's figures (:func:`cloud.delivery.outbox.record`),
then one send attempt; a refused email stays ``mail_pending`` for the flushers, so the
job is done either way. One that fails the gate is held for an operator
(``needs_review``). The email's kind names the job, so a re-run of the step after a
crash finds the email it recorded and never mints a second link.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.engine import transaction
from cloud.db.models import Rendition, Session
from cloud.db.states import SessionState
from cloud.delivery.errors import DeliveryConflictError
from cloud.delivery.handoff import link_policy
from cloud.delivery.mailer import Mailer, build_mailer
from cloud.delivery.outbox import attempt, record, retry_policy
from cloud.jobs.pipeline import model_key, report_key
from cloud.jobs.worker import Step, StepContext, StepError, StepHeldError, StepRejectedError
from cloud.settings import CloudSettings
from cloud.storage import ObjectNotFoundError, Storage

if TYPE_CHECKING:
    from cloud.render.quality import CheckFigures

logger = logging.getLogger(__name__)


class DeliverStep(Step):
    """Quality gate, then the link recorded and emailed (or the rendition held for review).

    ``gate=False`` is the ``deliver`` job: a fresh link for a finished video, no gate.
    """

    name, weight = "deliver", 0.5

    def __init__(
        self,
        settings: CloudSettings,
        factory: sessionmaker[Db],
        storage: Storage,
        gate: bool = True,
        mailer: Mailer | None = None,
    ) -> None:
        self.settings, self.factory, self.storage, self.gate = settings, factory, storage, gate
        self.mailer = mailer or build_mailer(settings.mail)

    def run(self, ctx: StepContext) -> str | None:
        sid = ctx.session_id
        report = self._json(report_key(sid))
        metrics = self._json(model_key(sid, "metrics.json"))
        video, dance = str(report["video_key"]), str(report["dance"])
        ssim, flicker = _float(metrics.get("ssim")), _float(report.get("flicker"))
        figures = _figures(report)
        reasons = self._held_because(sid, ssim, flicker, figures)
        try:
            with transaction(self.factory) as db:
                row = _store_rendition(db, sid, video, dance, ssim, flicker, reasons)
                row.dancer_missing, row.pose_error = figures.missing, figures.pose_error
                row.appearance, row.appearance_drift = figures.appearance, figures.drift
                if reasons:
                    recorded = None
                else:
                    kind = f"rendition-job-{ctx.lease.job_id}"
                    sender = self.settings.mail.sender
                    policy = link_policy(self.settings)
                    recorded = record(db, sid, kind, policy, sender)
        except DeliveryConflictError as exc:
            raise StepRejectedError(str(exc)) from None
        if recorded is None:
            raise StepHeldError(f"needs review: {reasons}", SessionState.NEEDS_REVIEW)
        state = attempt(
            self.factory, self.mailer, recorded.mail_id, retry_policy(self.settings.delivery)
        )
        logger.info("session %s: email %s", sid, state or recorded.state)
        return video

    def _held_because(
        self, sid: str, ssim: float | None, flicker: float | None, figures: CheckFigures
    ) -> str:
        """Why the quality gate holds the rendition ("" when it may go out)."""
        from cloud.render.quality import QualityGate

        if not self.gate:
            return ""
        q = self.settings.render.quality
        with self.factory() as db:
            median = flicker_median(db, self.settings.booth, sid, q.flicker_history)
        decision = QualityGate.from_settings(q).decide(
            ssim, float("nan") if flicker is None else flicker, figures, median
        )
        return "" if decision.deliver else "; ".join(decision.reasons)

    def _json(self, key: str) -> dict[str, object]:
        try:
            data: dict[str, object] = json.loads(self.storage.get(key))
        except ObjectNotFoundError:
            raise StepError(f"{key} is missing: re-render the session") from None
        return data


def _store_rendition(
    db: Db,
    sid: str,
    video: str,
    dance: str,
    ssim: float | None,
    flicker: float | None,
    reasons: str,
) -> Rendition:
    row = db.get(Rendition, sid) or Rendition(session_id=sid)
    row.video_key, row.dance = video, dance
    row.held_out_ssim, row.flicker = ssim, flicker
    row.review_reasons = reasons or None
    db.add(row)
    db.flush()
    return row


MIN_FLICKER_HISTORY = 5  # renditions before the booth's median means anything


def flicker_median(db: Db, booth: str, exclude: str, count: int) -> float | None:
    """The median flicker of ``booth``'s last ``count`` renditions (other than
    ``exclude``'s), or None with fewer than :data:`MIN_FLICKER_HISTORY`."""
    values = db.scalars(
        select(Rendition.flicker)
        .join(Session, Session.id == Rendition.session_id)
        .where(
            Session.booth_id == booth,
            Rendition.flicker.is_not(None),
            Rendition.session_id != exclude,
        )
        .order_by(Rendition.created_at.desc())
        .limit(count)
    ).all()
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(finite) if len(finite) >= MIN_FLICKER_HISTORY else None


def _figures(report: dict[str, object]) -> CheckFigures:
    from cloud.render.quality import CheckFigures

    checks = report.get("checks")
    error = report.get("checks_error")
    if "checks" not in report:
        error = "the rendition was rendered without the checks: re-render it"
    return CheckFigures.from_report(
        checks if isinstance(checks, dict) else None, str(error) if error else None
    )


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
