"""The worker's steps: fine-tune → render → gate and deliver, built on training/render/delivery.

Every step keeps what a later attempt (on any machine) needs in the object store,
under the session's prefix, and returns its key as the job's checkpoint:

    sessions/{id}/model/last.safetensors   resumable fine-tune state (saved at evaluations)
    sessions/{id}/model/best.safetensors   the weights to render with
    sessions/{id}/model/metrics.json       held-out SSIM etc. for the quality gate
    sessions/{id}/renditions/{dance}.mp4   the rendition (cloud.render.inputs.rendition_key)
    sessions/{id}/renditions/report.json   its dance, flicker, checks (pose, appearance), key
    sessions/{id}/renditions/strip.jpg     its worst checked frames, skeletons drawn over

``finetune`` jobs (what the uploader enqueues once a capture is complete) run all
three steps, the last in :mod:`cloud.jobs.deliver`; ``deliver`` jobs send a fresh link
for a finished video.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.models import Session, Shard
from cloud.db.states import SessionState
from cloud.settings import CloudSettings
from cloud.storage import ObjectNotFoundError, Storage
from cloud.storage.keys import model_key

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from cloud.render.checks import FrameSampler
    from cloud.render.credentials import RenditionFacts
    from cloud.render.generator import Generator
    from cloud.render.inputs import Dance, VisitorClip

    Plate = npt.NDArray[np.uint8]

from cloud.jobs.worker import Pipelines, Step, StepContext, StepError, StepHeldError
from common.pose_check import PoseCheckError, PoseFn, PoseServer
from protocol.shards import session_prefix

logger = logging.getLogger(__name__)


def report_key(session: str) -> str:
    """The last rendition's figures (dance, flicker, where the video is)."""
    return f"{session_prefix(session)}renditions/report.json"


def strip_key(session: str) -> str:
    """The review page's strip: the worst checked frames with the detected skeleton."""
    return f"{session_prefix(session)}renditions/strip.jpg"


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
        from cloud.training.errors import NoDancerError
        from cloud.training.finetune import finetune
        from cloud.training.loop import Progress, RunOptions

        training, sid = self.settings.training, ctx.session_id
        if training.booth_checkpoint is None:
            raise StepError(
                "training.booth_checkpoint is not set: build one with "
                "'dancebooth model train-base' and point the setting at it"
            )
        self._check_plate(sid)
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

        try:
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
        except NoDancerError as exc:
            # Nobody to learn: an operator decides (retake), instead of three failed attempts.
            raise StepHeldError(
                f"needs review: no dancer in the capture ({exc})", SessionState.NEEDS_REVIEW
            ) from None
        self._save(result.checkpoint, model_key(sid, "best.safetensors"))
        run = result.run
        metrics = {
            **run.metrics,
            "steps": run.steps,
            "start_step": run.start_step,
            "stopped": run.stopped,
            **result.report(),  # dancer-only or full-frame, and frames without a mask
        }
        self.storage.put(
            model_key(sid, "metrics.json"), json.dumps(metrics).encode(), "application/json"
        )
        return model_key(sid, "best.safetensors")

    def _check_plate(self, sid: str) -> None:
        """Compare the session's clean plate with its frames now, minutes before it is
        rendered over, so a warning reaches the operator while the next visitors dance."""
        from cloud.ingest.plates import load_plate

        try:
            load_plate(self.storage, self.factory, sid)
        except Exception:  # never fail a fine-tune over it: the render step checks again
            logger.exception("checking the clean plate of %s failed", sid)

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
        plate: Callable[[str], Plate | None] | None = None,
        pose: PoseFn | None = None,
    ) -> None:
        self.settings, self.factory, self.storage = settings, factory, storage
        self.generator = generator
        # The session's clean plate (HxWx3 uint8 BGR at the camera's resolution), if any.
        self.plate = plate
        # The booth's pose estimator for the checks: a child kept across renditions.
        self.pose: PoseFn = pose or PoseServer()

    def run(self, ctx: StepContext) -> str | None:
        from cloud.db.booths import booth_look, session_booth_look
        from cloud.render.credentials import RenditionFacts
        from cloud.render.errors import CompositeError
        from cloud.render.inputs import clip_from_store
        from cloud.render.inputs import rendition_key as video_key
        from cloud.render.rendition import make_rendition
        from cloud.render.torch_generator import TorchGenerator
        from cloud.render.video import RenditionTags

        sid = ctx.session_id
        clip = clip_from_store(self.storage, self.factory, sid)
        with self.factory() as db:
            look = session_booth_look(db, sid) or booth_look(db, self.settings.booth)
        plate = self.plate(sid) if self.plate is not None else None
        with tempfile.TemporaryDirectory(prefix="dancebooth-render-") as tmp:
            dance = self._dance(sid, Path(tmp))
            weights = Path(tmp) / "best.safetensors"
            weights.write_bytes(self.storage.get(model_key(sid, "best.safetensors")))
            gen: Generator
            if self.generator is not None:
                gen = self.generator(weights)
            else:
                gen = TorchGenerator.from_checkpoint(weights, device=self.settings.training.device)
            out = Path(tmp) / "video.mp4"
            q = self.settings.render.quality
            try:
                rendition = make_rendition(
                    gen,
                    clip,
                    dance,
                    out,
                    tags=RenditionTags(sid, gen.model_version, dance.name),
                    settings=self.settings.render,
                    plate=plate,
                    layout="side-by-side" if look.layout == "side-by-side" else "solo",
                    booth_name=look.title,
                    progress=lambda done, total: ctx.report(done / max(total, 1)),
                    sample_runs=q.sample_runs if q.checks else 0,
                    sample_run_length=q.run_length,
                )
            except CompositeError as exc:
                raise StepError(str(exc)) from None
            self._sign(out, RenditionFacts(self.settings.booth, sid, gen.model_version, dance.name))
            key = video_key(sid, dance.name)
            self.storage.put(key, out.read_bytes(), "video/mp4")
        for note in rendition.notes:
            logger.info("session %s rendition: %s", sid, note)
        report = {**rendition.report(), "dance": dance.name, "video_key": key}
        report["render_seconds"] = rendition.result.seconds
        if rendition.samples is not None:
            report["checks"], report["checks_error"] = self._check(
                sid, clip, gen.resolution, rendition.samples
            )
        self.storage.put(report_key(sid), json.dumps(report).encode(), "application/json")
        return key

    def _check(
        self, sid: str, clip: VisitorClip, resolution: int, samples: FrameSampler
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The rendition checks' report (or why they could not run), and the strip stored."""
        import cv2

        from cloud.render.checks import check_rendition, strip, visitor_signatures

        threshold = self.settings.render.quality.limb_threshold
        try:
            visitor = visitor_signatures(clip, resolution)
            checks = check_rendition(samples, self.pose, visitor, threshold)
        except (PoseCheckError, ValueError) as exc:
            logger.warning("session %s: the rendition checks could not run: %s", sid, exc)
            return None, str(exc)
        ok, jpeg = cv2.imencode(".jpg", strip(samples, checks), [cv2.IMWRITE_JPEG_QUALITY, 88])
        if ok:
            self.storage.put(strip_key(sid), jpeg.tobytes(), "image/jpeg")
        return checks.report(), None

    def _sign(self, video: Path, facts: RenditionFacts) -> None:
        """Embed the signed C2PA manifest into the finished MP4 (what is stored is what
        was signed); unsigned only where the settings say so."""
        from cloud.render.credentials import sign_in_place, signing_identity

        identity = signing_identity(self.settings)
        if identity is None:
            logger.warning(
                "session %s: rendition delivered unsigned (credentials.allow_unsigned)",
                facts.session_id,
            )
            return
        sign_in_place(video, identity, facts)

    def _dance(self, sid: str, scratch: Path) -> Dance:
        """The visitor's dance (chosen or assigned at registration), else the default."""
        from cloud.dances import DanceError
        from cloud.dances.library import load_dance
        from cloud.render.inputs import dance_from_reference
        from common.reference import ReferenceDanceError

        with self.factory() as db:
            row = db.get(Session, sid)
            name = (row.dance if row else None) or self.settings.worker.dance
            try:
                return dance_from_reference(load_dance(db, self.storage, name, scratch))
            except (DanceError, ReferenceDanceError) as exc:
                raise StepError(f"dance {name}: {exc}") from None


def default_pipelines(
    settings: CloudSettings, factory: sessionmaker[Db], storage: Storage
) -> Pipelines:
    from cloud.jobs.deliver import DeliverStep  # it builds on this module's keys

    finetune = FinetuneStep(settings, factory, storage, settings.worker.work_dir)
    from cloud.ingest.plates import load_plate

    # The render step composites over the session's clean plate: the one of the node with
    # most frames (the node clip_from_store renders), at the camera's resolution.
    render = RenderStep(settings, factory, storage, plate=partial(load_plate, storage, factory))
    return {
        "finetune": [finetune, render, DeliverStep(settings, factory, storage)],
        "deliver": [DeliverStep(settings, factory, storage, gate=False)],
    }
