"""The worker's steps: fine-tune → render → gate and deliver, built on training/render/delivery.

Every step keeps what a later attempt (on any machine) needs in the object store,
under the session's prefix, and returns its key as the job's checkpoint:

    sessions/{id}/model/last.safetensors   resumable fine-tune state (saved at evaluations)
    sessions/{id}/model/best.safetensors   the weights to render with
    sessions/{id}/model/metrics.json       held-out SSIM etc. for the quality gate
    sessions/{id}/renditions/{dance}.mp4   the rendition (cloud.render.inputs.rendition_key)
    sessions/{id}/renditions/report.json   its dance, flicker measure and key

``finetune`` jobs (what the uploader enqueues once a capture is complete) run all
three steps; ``deliver`` jobs re-send the link of a delivered video.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.engine import transaction
from cloud.db.models import Rendition, Session, Shard, utcnow
from cloud.db.states import SessionState
from cloud.settings import CloudSettings
from cloud.storage import ObjectNotFoundError, Storage

if TYPE_CHECKING:
    from cloud.delivery.tokens import IssuedToken
    from cloud.render.generator import Generator

from cloud.jobs.worker import Pipelines, Step, StepContext, StepError, StepHeldError
from protocol.shards import session_prefix

logger = logging.getLogger(__name__)


def model_key(session: str, name: str) -> str:
    return f"{session_prefix(session)}model/{name}"


def report_key(session: str) -> str:
    """The last rendition's figures (dance, flicker, where the video is)."""
    return f"{session_prefix(session)}renditions/report.json"


def session_shards(factory: sessionmaker[Db], storage: Storage, session: str) -> list[bytes]:
    with factory() as db:
        keys = db.scalars(
            select(Shard.key)
            .where(Shard.session_id == session, Shard.written_at.is_not(None))
            .order_by(Shard.node_id, Shard.index)
        ).all()
    if not keys:
        raise StepError(f"session {session} has no stored frames: retake the capture")
    return [storage.get(key) for key in keys]


class FinetuneStep(Step):
    """Fine-tune the booth checkpoint on the session's frames under the time budget."""

    name, weight, session_state = "finetune", 6.0, SessionState.TRAINING

    def __init__(
        self, settings: CloudSettings, factory: sessionmaker[Db], storage: Storage, work_root: Path
    ) -> None:
        self.settings, self.factory, self.storage, self.work_root = (
            settings,
            factory,
            storage,
            work_root,
        )

    def run(self, ctx: StepContext) -> str | None:
        from cloud.training.finetune import finetune
        from cloud.training.loop import Progress, RunOptions

        training, sid = self.settings.training, ctx.session_id
        if training.booth_checkpoint is None:
            raise StepError(
                "training.booth_checkpoint is not set: build one with "
                "'dancebooth model train-base' and point the setting at it"
            )
        work = self.work_root / sid
        work.mkdir(parents=True, exist_ok=True)
        self._restore(ctx, work)
        steps = self.settings.worker.max_steps

        def progress(p: Progress) -> None:
            done = max(p.elapsed_s / p.budget_s, p.step / max(1, p.max_steps))
            ctx.report(min(done, 1.0), max(p.budget_s - p.elapsed_s, 0.0))
            if p.evaluated and (work / "last.safetensors").exists():
                self._save(work / "last.safetensors", model_key(sid, "last.safetensors"))
                ctx.save_checkpoint(model_key(sid, "last.safetensors"))  # raises if job lost

        result = finetune(
            lambda: session_shards(self.factory, self.storage, sid),
            training.booth_checkpoint,
            training.budget_s,
            steps,
            work_dir=work,
            progress_callback=progress,
            options=RunOptions(
                budget_s=training.budget_s,
                max_steps=steps,
                batch_size=training.batch_size,
                device=training.device,
            ),
            resolution=training.resolution,
        )
        self._save(result.checkpoint, model_key(sid, "best.safetensors"))
        run = result.run
        metrics = {
            **run.metrics,
            "steps": run.steps,
            "start_step": run.start_step,
            "stopped": run.stopped,
        }
        self.storage.put(
            model_key(sid, "metrics.json"), json.dumps(metrics).encode(), "application/json"
        )
        return model_key(sid, "best.safetensors")

    def _restore(self, ctx: StepContext, work: Path) -> None:
        """Another worker's saved state, so this attempt resumes instead of restarting."""
        key = ctx.checkpoint_key
        if (
            key is None
            or not key.endswith("last.safetensors")
            or (work / "last.safetensors").exists()
        ):
            return
        try:
            (work / "last.safetensors").write_bytes(self.storage.get(key))
            logger.info("session %s: resuming the fine-tune from %s", ctx.session_id, key)
        except ObjectNotFoundError:
            logger.warning("checkpoint %s is gone; fine-tuning from the booth checkpoint", key)

    def _save(self, path: Path, key: str) -> None:
        self.storage.put(key, path.read_bytes())


class RenderStep(Step):
    """Render the reference dance with the fine-tuned model and the visitor's framing."""

    name, weight, session_state = "render", 2.0, SessionState.RENDERING

    def __init__(
        self,
        settings: CloudSettings,
        factory: sessionmaker[Db],
        storage: Storage,
        generator: Callable[[Path], Generator] | None = None,
    ) -> None:
        self.settings, self.factory, self.storage = settings, factory, storage
        self.generator = generator

    def run(self, ctx: StepContext) -> str | None:
        from cloud.render.inputs import clip_from_store, dance_by_name
        from cloud.render.inputs import rendition_key as video_key
        from cloud.render.normalize import normalize_dance
        from cloud.render.renderer import render
        from cloud.render.torch_generator import TorchGenerator
        from cloud.render.video import RenditionTags
        from cloud.training.framing import Framing

        sid, cfg = ctx.session_id, self.settings.render
        dance = dance_by_name(self.settings.worker.dance)
        clip = clip_from_store(self.storage, self.factory, sid)
        with tempfile.TemporaryDirectory(prefix="dancebooth-render-") as tmp:
            weights = Path(tmp) / "best.safetensors"
            weights.write_bytes(self.storage.get(model_key(sid, "best.safetensors")))
            gen: Generator
            if self.generator is not None:
                gen = self.generator(weights)
            else:
                gen = TorchGenerator.from_checkpoint(weights, device=self.settings.training.device)
            mapped, _, _fit = normalize_dance(
                dance.keypoints, clip.keypoints, min_range=cfg.min_range
            )
            framing = Framing.around(clip.keypoints, clip.width, clip.height)
            out = Path(tmp) / "video.mp4"
            result = render(
                gen,
                framing.to_pixels(mapped, gen.resolution),
                out,
                fps=dance.fps,
                tags=RenditionTags(sid, gen.model_version, dance.name),
                music=dance.music,
                batch_size=cfg.batch_size,
                crf=cfg.crf,
                preset=cfg.preset,
                progress=lambda done, total: ctx.report(done / max(total, 1)),
            )
            key = video_key(sid, dance.name)
            self.storage.put(key, out.read_bytes(), "video/mp4")
        report = {
            "flicker": result.flicker.flicker,
            "frames": result.frames,
            "dance": dance.name,
            "video_key": key,
        }
        self.storage.put(report_key(sid), json.dumps(report).encode(), "application/json")
        return key


class DeliverStep(Step):
    """Quality gate, then a fresh link token and the email (or hold for an operator)."""

    name, weight = "deliver", 0.5

    def __init__(
        self,
        settings: CloudSettings,
        factory: sessionmaker[Db],
        storage: Storage,
        gate: bool = True,
    ) -> None:
        self.settings, self.factory, self.storage, self.gate = settings, factory, storage, gate
        self.done_state = SessionState.DELIVERED

    def run(self, ctx: StepContext) -> str | None:
        from cloud.delivery.handoff import LinkPolicy, Visitor, hand_off, send_link
        from cloud.delivery.mailer import build_mailer
        from cloud.render.quality import QualityGate

        sid = ctx.session_id
        with self.factory() as db:
            row = db.get(Session, sid)
            email = row.email if row is not None else None
        if not email:
            raise StepError(f"session {sid} has no email address (deleted?); nothing to send")
        report = self._json(report_key(sid))
        metrics = self._json(model_key(sid, "metrics.json"))
        dance, ssim = str(report["dance"]), _float(metrics.get("ssim"))
        video = str(report["video_key"])
        flicker = _float(report.get("flicker"))
        policy = LinkPolicy(
            self.settings.api.public_url,
            timedelta(days=self.settings.delivery.link_ttl_days),
            self.settings.delivery.token_bytes,
        )
        mailer, visitor = build_mailer(self.settings.mail), Visitor(sid, email)
        q = self.settings.render.quality
        if self.gate:
            outcome = hand_off(
                visitor,
                dance,
                held_out_ssim=ssim,
                flicker=float("nan") if flicker is None else flicker,
                gate=QualityGate(q.min_held_out_ssim, q.max_flicker),
                mailer=mailer,
                policy=policy,
            )
            sent, reasons = outcome.sent, "; ".join(outcome.decision.reasons)
        else:
            # A re-send is a new email: its own kind, or the mailer's send-once log would
            # swallow it while the old link (its token replaced below) stops working.
            kind = f"rendition-resend-{ctx.lease.job_id}"
            sent, reasons = send_link(visitor, dance, mailer, policy, kind=kind), ""
        self._record(sid, video, sent.token if sent else None, dance, ssim, flicker, reasons)
        if sent is None:
            raise StepHeldError(f"needs review: {reasons}", SessionState.NEEDS_REVIEW)
        return video

    def _json(self, key: str) -> dict[str, object]:
        try:
            data: dict[str, object] = json.loads(self.storage.get(key))
        except ObjectNotFoundError:
            raise StepError(f"{key} is missing: re-render the session") from None
        return data

    def _record(
        self,
        sid: str,
        video: str,
        token: IssuedToken | None,
        dance: str,
        ssim: float | None,
        flicker: float | None,
        reasons: str,
    ) -> None:
        with transaction(self.factory) as db:
            row = db.get(Rendition, sid) or Rendition(session_id=sid)
            row.video_key, row.dance = video, dance
            row.held_out_ssim, row.flicker = ssim, flicker
            row.review_reasons = reasons or None
            if token is not None:
                row.token_digest, row.expires_at = token.digest, token.expires_at
                row.emailed_at = utcnow()
            db.add(row)


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def default_pipelines(
    settings: CloudSettings, factory: sessionmaker[Db], storage: Storage
) -> Pipelines:
    finetune = FinetuneStep(settings, factory, storage, settings.worker.work_dir)
    render = RenderStep(settings, factory, storage)
    return {
        "finetune": [finetune, render, DeliverStep(settings, factory, storage)],
        "deliver": [DeliverStep(settings, factory, storage, gate=False)],
    }
