"""The worker's real pipeline on a tiny model: fine-tune → render → gate → email, resumable."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, select, update

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_session
from cloud.db.models import Frame, Job, JobState, Rendition, Session, Shard, utcnow
from cloud.db.states import SessionState
from cloud.jobs.pipeline import RenderStep, default_pipelines, model_key, report_key, strip_key
from cloud.jobs.queue import JobQueue
from cloud.jobs.worker import Worker
from cloud.render.credentials import read_stream
from cloud.render.inputs import rendition_key
from cloud.settings import CloudSettings
from cloud.storage.local import LocalStorage
from cloud.training.checkpoint import save_checkpoint
from cloud.training.finetune import finetune
from cloud.training.loop import RunOptions
from cloud.training.model import Pix2Pix
from common.pose_check import PoseServer
from edge.pose.base import PoseError
from edge.pose.models import FETCH_HINT, model_path
from protocol.shards import shard_key
from tests.cloud.training.conftest import TINY
from tests.cloud.training.dancer import write_session
from tests.services import missing

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

SID = "svisitor1"
REFERENCE = Path(__file__).resolve().parents[2] / "reference_videos" / "disco-steps"


def short_dance(tmp_path: Path, frames: int = 45) -> Path:
    """The first ``frames`` frames of a shipped dance: the same format, a quick render."""
    out = tmp_path / "short-dance"
    out.mkdir()
    meta = json.loads((REFERENCE / "dance.json").read_text())
    meta.update(frames=frames, duration_s=frames / meta["fps"], name="short-dance")
    (out / "dance.json").write_text(json.dumps(meta))
    lines = (REFERENCE / "keypoints.csv").read_text().splitlines()
    (out / "keypoints.csv").write_text("\n".join(lines[: frames + 1]) + "\n")
    shutil.copy(REFERENCE / meta["audio"], out / meta["audio"])
    return out


def _booth(
    engine: Engine, tmp_path: Path, min_ssim: float, checks: bool = False
) -> tuple[CloudSettings, LocalStorage]:
    storage = LocalStorage(tmp_path / "store")
    write_session(storage.root, SID, frames=16)
    with transaction(session_factory(engine)) as db:
        row = ensure_session(db, "booth1", SID, SessionState.UPLOADED)
        row.email, row.consent = "ana@example.com", True
        key = shard_key(SID, "n1", 0)
        db.add(
            Shard(session_id=SID, node_id="n1", index=0, key=key, frames=16, written_at=utcnow())
        )
        db.flush()
        for seq in range(16):  # what the uploader records per stored frame
            db.add(
                Frame(
                    session_id=SID,
                    node_id="n1",
                    seq=seq,
                    shard_key=key,
                    capture_ns=seq * 33_000_000,
                    jpeg_bytes=1,
                )
            )
    booth = tmp_path / "booth.safetensors"
    save_checkpoint(booth, Pix2Pix.from_config(TINY), half=True)
    settings = CloudSettings(
        training={"budget_s": 60, "booth_checkpoint": booth, "device": "cpu"},
        worker={"max_steps": 3, "work_dir": tmp_path / "work", "dance": str(short_dance(tmp_path))},
        mail={"type": "outbox", "directory": tmp_path / "outbox"},
        render={"quality": {"min_held_out_ssim": min_ssim, "max_flicker": 255, "checks": checks}},
        credentials={"demo_dir": tmp_path / "credentials"},
    )
    return settings, storage


def test_finetune_job_ends_with_an_emailed_rendition(engine: Engine, tmp_path: Path) -> None:
    settings, storage = _booth(engine, tmp_path, min_ssim=-1.0)
    factory = session_factory(engine)
    queue = JobQueue(factory)
    job = queue.enqueue(SID, "finetune")
    worker = Worker(queue, default_pipelines(settings, factory, storage), "w1", heartbeat_s=0.5)
    assert worker.run_once()
    with factory() as db:
        done = db.get(Job, job.id)
        assert done is not None and done.state is JobState.SUCCEEDED, done.error if done else None
        assert done.step == "deliver" and done.progress == 1.0
        assert db.scalar(select(Session.state).where(Session.id == SID)) is SessionState.DELIVERED
        rendition = db.get(Rendition, SID)
        assert rendition is not None and rendition.token_digest and rendition.expires_at
        assert rendition.video_key == rendition_key(SID, "short-dance")
    for key in (
        model_key(SID, "best.safetensors"),
        model_key(SID, "metrics.json"),
        report_key(SID),
        rendition_key(SID, "short-dance"),
    ):
        assert storage.exists(key), key
    assert storage.get(rendition_key(SID, "short-dance"))[4:8] == b"ftyp"
    creds = read_stream(io.BytesIO(storage.get(rendition_key(SID, "short-dance"))))
    assert creds.state == "valid" and creds.ai_generated and creds.signer == "booth1"
    assert creds.capture_session == SID and creds.model_version
    report = json.loads(storage.get(report_key(SID)))
    assert report["height"] >= 480 and report["layout"] == "solo"  # the booth's default
    assert report["backdrop"] in ("median", "plain") and report["notes"]  # no plate: said
    (mail,) = (tmp_path / "outbox").glob("*.eml")
    assert "ana@example.com" in mail.read_text() and "/r/" in mail.read_text()

    first_digest = rendition.token_digest
    resend = queue.enqueue(SID, "deliver", queue_session=False)  # the operator's re-send
    assert worker.run_once()
    with factory() as db:
        again = db.get(Job, resend.id)
        assert again is not None and again.state is JobState.SUCCEEDED, again.error if again else ""
        assert db.scalar(select(Session.state).where(Session.id == SID)) is SessionState.DELIVERED
        fresh = db.get(Rendition, SID)
        assert fresh is not None and fresh.token_digest != first_digest
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2  # the re-send really went out


def test_quality_gate_holds_the_rendition_for_review_without_retrying(
    engine: Engine, tmp_path: Path
) -> None:
    settings, storage = _booth(engine, tmp_path, min_ssim=0.999)
    factory = session_factory(engine)
    queue = JobQueue(factory)
    job = queue.enqueue(SID, "finetune")
    Worker(queue, default_pipelines(settings, factory, storage), "w1", heartbeat_s=0.5).run_once()
    with factory() as db:
        done = db.get(Job, job.id)  # the job is over: the operator decides now
        assert done is not None and done.state is JobState.SUCCEEDED and done.attempts == 1
        session = db.get(Session, SID)
        assert session is not None and session.state is SessionState.NEEDS_REVIEW
        assert "needs review" in (session.error or "") and "SSIM" in (session.error or "")
        rendition = db.get(Rendition, SID)
        assert rendition is not None and rendition.token_digest is None
    assert not (tmp_path / "outbox").exists() or not list((tmp_path / "outbox").glob("*.eml"))


def test_a_rendition_in_which_nobody_is_drawn_is_held_with_the_reason_and_the_strip(
    engine: Engine, tmp_path: Path
) -> None:
    """A 3-step fine-tune of a tiny model draws no person: the booth's pose estimator
    finds nobody in the sampled frames, so the gate holds it whatever its SSIM."""
    try:
        model_path("pose_detection.tflite")
        model_path("pose_landmark_full.tflite")
    except PoseError:
        missing("the BlazePose models", FETCH_HINT)
    settings, storage = _booth(engine, tmp_path, min_ssim=-1.0, checks=True)
    factory = session_factory(engine)
    queue = JobQueue(factory)
    queue.enqueue(SID, "finetune")
    pipelines = default_pipelines(settings, factory, storage)
    Worker(queue, pipelines, "w1", heartbeat_s=0.5).run_once()
    with factory() as db:
        session = db.get(Session, SID)
        assert session is not None and session.state is SessionState.NEEDS_REVIEW
        assert "no dancer found in 100% of the checked frames" in (session.error or "")
        rendition = db.get(Rendition, SID)
        assert rendition is not None and rendition.dancer_missing == 1.0
        assert rendition.token_digest is None
    report = json.loads(storage.get(report_key(SID)))
    assert report["checks"]["pose"]["frames"] == 12 and report["checks_error"] is None
    assert storage.get(strip_key(SID))[:2] == b"\xff\xd8"  # a JPEG
    render = pipelines["finetune"][1]
    assert isinstance(render, RenderStep) and isinstance(render.pose, PoseServer)
    render.pose.close()


def test_finetune_resumes_from_the_checkpoint_another_worker_stored(
    engine: Engine, tmp_path: Path
) -> None:
    settings, storage = _booth(engine, tmp_path, min_ssim=-1.0)
    assert settings.training.booth_checkpoint is not None
    elsewhere = tmp_path / "dead-worker"  # the first worker's disk, gone with it
    finetune(
        [storage.get(shard_key(SID, "n1", 0))],
        settings.training.booth_checkpoint,
        60,
        2,
        work_dir=elsewhere,
        options=RunOptions(budget_s=60, max_steps=2, device="cpu"),
    )
    storage.put(model_key(SID, "last.safetensors"), (elsewhere / "last.safetensors").read_bytes())
    factory = session_factory(engine)
    queue = JobQueue(factory)
    job = queue.enqueue(SID, "finetune")
    with transaction(factory) as db:
        db.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(checkpoint_key=model_key(SID, "last.safetensors"))
        )
    Worker(queue, default_pipelines(settings, factory, storage), "w2", heartbeat_s=0.5).run_once()
    metrics = json.loads(storage.get(model_key(SID, "metrics.json")))
    assert metrics["start_step"] == 2 and metrics["steps"] == 3, metrics


def test_the_render_step_uses_the_plate_and_the_booths_layout(
    engine: Engine, tmp_path: Path
) -> None:
    from cloud.db.booths import set_booth_look
    from cloud.jobs.pipeline import RenderStep

    settings, storage = _booth(engine, tmp_path, min_ssim=-1.0)
    weights = tmp_path / "visitor.safetensors"
    save_checkpoint(weights, Pix2Pix.from_config(TINY), half=True)
    storage.put(model_key(SID, "best.safetensors"), weights.read_bytes())
    factory = session_factory(engine)
    with factory() as db:
        set_booth_look(db, "booth1", layout="side-by-side", name="Test Booth")
    plates = {"size": (120, 160)}  # the session's camera: 160x120

    def plate(session: str) -> np.ndarray:
        assert session == SID
        return np.full((*plates["size"], 3), 100, np.uint8)

    queue = JobQueue(factory)
    worker = Worker(queue, {"render": [RenderStep(settings, factory, storage, plate=plate)]}, "w1")
    queue.enqueue(SID, "render")
    assert worker.run_once()
    report = json.loads(storage.get(report_key(SID)))
    assert report["layout"] == "side-by-side" and report["backdrop"] == "plate"
    assert report["height"] == 480 and report["reference_panel"] == "skeleton"

    plates["size"] = (480, 640)  # a plate from another camera: the job fails and says why
    job = queue.enqueue(SID, "render", max_attempts=1)
    assert worker.run_once()
    with factory() as db:
        failed = db.get(Job, job.id)
        assert failed is not None and failed.state is JobState.FAILED
        assert "plate is 640x480 but the session's frames are 160x120" in (failed.error or "")
