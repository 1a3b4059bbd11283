"""``dancebooth bench retention``: how fast the sweep and a visitor's deletion erase data.

Builds ``--sessions`` visitors captured 40 days ago (per visitor: ``--shards`` shard
objects with their frame rows, a model, a video) in a fresh database (SQLite file by
default, or ``--database-url``) and a local store, then times one retention sweep
over half of them and the visitor-deletion path (:func:`cloud.retention.erase`, what
the API calls) over the other half.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import click
from rich.progress import track

from cloud.db.engine import make_engine, session_factory, transaction, upgrade_database
from cloud.db.lifecycle import ensure_booth
from cloud.db.models import Frame, Session, Shard, utcnow
from cloud.db.states import SessionState
from cloud.retention import ALL_PARTS, Removal, erase, sweep
from cloud.settings import RetentionSettings
from cloud.storage import Storage
from cloud.storage.local import LocalStorage
from protocol.shards import session_prefix, shard_key

FRAMES_PER_SHARD = 50


def _populate(factory_url: str, storage: Storage, sessions: int, shards: int) -> list[str]:
    factory = session_factory(make_engine(factory_url))
    captured = utcnow() - timedelta(days=40)
    blob = bytes(64 * 1024)
    ids = [f"sbench{i:05d}" for i in range(sessions)]
    for sid in track(ids, description="building visitors", transient=True):
        keys = [shard_key(sid, "n1", i) for i in range(shards)]
        for key in keys:
            storage.put(key, blob)
        storage.put(f"{session_prefix(sid)}model/best.safetensors", blob)
        storage.put(f"{session_prefix(sid)}renditions/wave.mp4", blob)
        with transaction(factory) as db:
            ensure_booth(db, "booth1")
            db.add(
                Session(
                    id=sid,
                    booth_id="booth1",
                    email=f"{sid}@example.com",
                    consent=True,
                    state=SessionState.DELIVERED,
                    created_at=captured,
                    captured_at=captured,
                )
            )
            db.flush()
            for i, key in enumerate(keys):
                db.add(Shard(session_id=sid, node_id="n1", index=i, key=key, written_at=captured))
                db.add_all(
                    Frame(
                        session_id=sid,
                        node_id="n1",
                        seq=i * FRAMES_PER_SHARD + f,
                        shard_key=key,
                        capture_ns=f,
                        jpeg_bytes=1000,
                    )
                    for f in range(FRAMES_PER_SHARD)
                )
    return ids


@click.command("retention")
@click.option("--sessions", default=200, show_default=True, help="Visitors to build.")
@click.option("--shards", default=4, show_default=True, help="Shard objects per visitor.")
@click.option("--database-url", default=None, help="Default: a fresh SQLite file.")
def bench_retention(sessions: int, shards: int, database_url: str | None) -> None:
    """Sessions/s and objects/s of the retention sweep; visitor-deletion latency."""
    for name in ("cloud.retention", "cloud.db.lifecycle"):  # one line per session: quiet
        logging.getLogger(name).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="dancebooth-retention-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        upgrade_database(url)
        storage = LocalStorage(Path(tmp) / "store")
        ids = _populate(url, storage, sessions, shards)
        factory = session_factory(make_engine(url))
        half = ids[: len(ids) // 2]
        latencies = []
        for sid in track(half, description="deleting visitors", transient=True):
            start = time.perf_counter()
            with transaction(factory) as db:
                erase(db, storage, Removal(sid, ALL_PARTS, visitor=True))
            latencies.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        report = sweep(factory, storage, RetentionSettings(captures_days=30, models_days=30))
        took = time.perf_counter() - start
    objects = sum(len(e.objects) for e in report.erased)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    click.echo(
        f"database: {url.split(':', 1)[0]}; store: local; {shards + 2} objects and "
        f"{shards * FRAMES_PER_SHARD} frame rows per visitor"
    )
    rate = len(report.erased) / took
    click.echo(
        f"sweep: {len(report.erased)} sessions, {objects} objects in {took:.2f} s = "
        f"{rate:.1f} sessions/s, {objects / took:.0f} objects/s"
    )
    click.echo(
        f"visitor deletion ({len(half)}): p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, "
        f"max {max(latencies):.1f} ms"
    )
