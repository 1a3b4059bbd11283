"""A booth whose dance adds run for real (``dancebooth reference add`` in a process),
with the replay backend fed the dancer's keypoints, so no pose model is needed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cloud.api import create_app
from cloud.api.link import LocalBoothLink
from cloud.api.security import add_operator
from cloud.db.engine import session_factory, transaction
from cloud.settings import CloudSettings
from cloud.storage.local import LocalStorage
from common.reference_add import AddOptions
from tests.cloud.api.conftest import PASSWORD, Booth

FRAMES = 75  # 2.5 s: the quality check refuses dances under 2 s
SIZE = (160, 120)


def dance_video(tmp: Path, frames: int = FRAMES) -> tuple[Path, Path]:
    """A short video with music, and the dancer's keypoints in each frame (.npy)."""
    from edge.synthetic.visitor import make_visitor
    from tests.edge.videos import write_video

    video = write_video(tmp / "Salsa Night.mp4", frames=frames, size=SIZE, audio="aac")
    truth = make_visitor(5).keypoints(SIZE[0], SIZE[1], 30.0, frames / 30)
    np.save(tmp / "dancer.npy", truth)
    return video, tmp / "dancer.npy"


def dance_settings(tmp: Path, db_url: str, **api: Any) -> CloudSettings:
    return CloudSettings(
        database={"url": db_url},
        mail={"type": "outbox", "directory": str(tmp / "outbox")},
        api={
            "secret_key": "test-secret-key-0123456789",
            "events_poll_s": 0.1,
            "capture_mode": "free",  # capture_s, not the dance's length
            **api,
        },
        dances={
            "upload_dir": str(tmp / "dances"),
            "max_upload_mb": 2,
        },
    )


def dance_booth(engine: Engine, settings: CloudSettings, tmp: Path, keypoints: Path) -> Booth:
    """The booth, its adds run with the replay backend reading ``keypoints``."""
    with transaction(session_factory(engine)) as db:
        add_operator(db, "alice", PASSWORD)
    storage = LocalStorage(tmp / "store")
    link = LocalBoothLink()
    options = AddOptions(backend="replay", keypoints=keypoints)
    app = create_app(settings, engine=engine, link=link, storage=storage, dance_options=options)
    return Booth(app, engine, link, settings, storage)


def wait_added(client: TestClient, name: str, timeout: float = 120) -> dict[str, Any]:
    """The dance once its add has finished (ready, refused or failed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view: dict[str, Any] = client.get(f"/api/dances/{name}").json()
        if view["status"] not in ("uploading", "adding"):
            return view
        time.sleep(0.2)
    raise AssertionError(f"the add of {name} did not finish in {timeout} s")


def store_capture(engine: Engine, storage: LocalStorage, sid: str, frames: int = 16) -> None:
    """What the uploader leaves after a node's capture: a shard, a row per frame, and the
    session uploaded (tests/cloud/test_pipeline.py builds the same)."""
    from cloud.db.lifecycle import transition
    from cloud.db.models import Frame, Shard, utcnow
    from cloud.db.states import SessionState
    from protocol.shards import shard_key
    from tests.cloud.training.dancer import write_session

    write_session(storage.root, sid, frames=frames)
    with transaction(session_factory(engine)) as db:
        key = shard_key(sid, "n1", 0)
        db.add(
            Shard(
                session_id=sid, node_id="n1", index=0, key=key, frames=frames, written_at=utcnow()
            )
        )
        db.flush()
        db.add_all(
            Frame(
                session_id=sid,
                node_id="n1",
                seq=seq,
                shard_key=key,
                capture_ns=seq * 33_000_000,
                jpeg_bytes=1,
            )
            for seq in range(frames)
        )
        transition(db, sid, SessionState.UPLOADED)
