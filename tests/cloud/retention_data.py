"""A visitor's full footprint (objects + rows) for retention tests, and a listing of it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session as Db

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_booth
from cloud.db.models import (
    DeadLetter,
    Frame,
    Job,
    JobState,
    Manifest,
    Rendition,
    Session,
    Shard,
    utcnow,
)
from cloud.db.states import SessionState
from cloud.settings import LocalStorage as LocalSettings
from cloud.settings import S3Storage as S3Settings
from cloud.storage import Storage, create_storage
from protocol.shards import session_prefix, shard_key
from tests.services import S3Endpoint

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

TABLES: dict[str, Any] = {
    "frames": Frame,
    "shards": Shard,
    "manifests": Manifest,
    "renditions": Rendition,
    "jobs": Job,
}


def make_storage(kind: str, tmp_path: Path, endpoint: S3Endpoint | None) -> Storage:
    if kind == "local":
        return create_storage(LocalSettings(root=tmp_path / "store"))
    assert endpoint is not None
    return create_storage(
        S3Settings(
            bucket=f"r{abs(hash(str(tmp_path))) % 10**9}",
            endpoint_url=endpoint.url,
            access_key_id="testing",
            secret_access_key="testing",
            create_bucket=True,
        )
    )


def frames_topic(sid: str) -> str:
    return f"dancebooth/booth1/node/n1/frames/{sid}"


def add_visitor(
    engine: Engine,
    storage: Storage,
    sid: str,
    *,
    age_days: float,
    link_days: float | None,
    state: SessionState = SessionState.DELIVERED,
) -> None:
    """A visitor captured ``age_days`` ago whose link expires in ``link_days`` (None: no link)."""
    now = utcnow()
    captured = now - timedelta(days=age_days)
    keys = [shard_key(sid, node, i) for node in ("n1", "n2") for i in range(2)]
    prefix = session_prefix(sid)
    extra = [f"{prefix}model/best.safetensors", f"{prefix}model/metrics.json"]
    extra += [f"{prefix}renditions/wave.mp4", f"{prefix}renditions/report.json"]
    for key in keys + extra:
        storage.put(key, f"bytes of {key}".encode())
    with transaction(session_factory(engine)) as db:
        ensure_booth(db, "booth1")
        db.add(
            Session(
                id=sid,
                booth_id="booth1",
                email=f"{sid}@example.com",
                consent=True,
                state=state,
                created_at=captured,
                captured_at=captured,
                uploaded_at=captured,
            )
        )
        db.flush()
        for n, key in enumerate(keys):
            node = key.split("/")[2]
            db.add(
                Shard(
                    session_id=sid,
                    node_id=node,
                    index=n % 2,
                    key=key,
                    frames=2,
                    written_at=captured,
                )
            )
            for seq in (2 * (n % 2), 2 * (n % 2) + 1):
                db.add(
                    Frame(
                        session_id=sid,
                        node_id=node,
                        seq=seq,
                        shard_key=key,
                        capture_ns=seq,
                        jpeg_bytes=10,
                    )
                )
        for node in ("n1", "n2"):
            db.add(
                Manifest(
                    session_id=sid, node_id=node, body={}, expected=4, received=4, complete=True
                )
            )
        db.add(Job(session_id=sid, kind="finetune", state=JobState.SUCCEEDED))
        expires = None if link_days is None else now + timedelta(days=link_days)
        db.add(
            Rendition(
                session_id=sid,
                video_key=f"{prefix}renditions/wave.mp4",
                dance="wave",
                token_digest=None if expires is None else f"{sid:0<64}"[:64],
                expires_at=expires,
            )
        )
        db.add(DeadLetter(topic=frames_topic(sid), reason="bad", size=3, sha256="0" * 64))
    # fmt: on


def footprint(engine: Engine, storage: Storage, sid: str) -> dict[str, Any]:
    """Everything stored for ``sid``: object keys, row counts per table, dead letters."""
    with session_factory(engine)() as db:
        rows = {name: _count(db, model, sid) for name, model in TABLES.items()}
        rows["dead_letters"] = len(
            db.scalars(select(DeadLetter.id).where(DeadLetter.topic == frames_topic(sid))).all()
        )
    return {"objects": sorted(storage.list_keys(session_prefix(sid))), "rows": rows}


def _count(db: Db, model: Any, sid: str) -> int:
    return len(db.scalars(select(model).where(model.session_id == sid)).all())


def session_row(engine: Engine, sid: str) -> Session:
    with session_factory(engine)() as db:
        row = db.get(Session, sid)
        assert row is not None
        db.expunge(row)
        return row


def all_keys(storage: Storage) -> Iterator[str]:
    return iter(sorted(storage.list_keys("")))


def days_ago(days: float) -> datetime:
    return utcnow() - timedelta(days=days)
