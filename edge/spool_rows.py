"""The spool's SQLite tables and the rows :class:`~edge.spool.Spool` hands out."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS captures (
    session TEXT PRIMARY KEY,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    fps REAL NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    seq_count INTEGER,
    dropped TEXT NOT NULL DEFAULT '[]',
    lost TEXT NOT NULL DEFAULT '[]',
    manifest_sends INTEGER NOT NULL DEFAULT 0,
    manifest_next REAL
);
CREATE TABLE IF NOT EXISTS frames (
    id INTEGER PRIMARY KEY,
    session TEXT NOT NULL,
    seq INTEGER NOT NULL,
    capture_ns INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    state INTEGER NOT NULL,
    jpeg BLOB,
    truth BLOB,
    packet BLOB,
    raw BLOB,
    acked_at REAL,
    bytes INTEGER NOT NULL,
    UNIQUE (session, seq)
);
CREATE INDEX IF NOT EXISTS frames_by_state ON frames (state, id);
"""


# Added after the first release: spools made before it get the column on open.
LATER_COLUMNS = {"captures": {"lost": "TEXT NOT NULL DEFAULT '[]'"}}


def add_later_columns(db: sqlite3.Connection) -> None:
    for table, columns in LATER_COLUMNS.items():
        have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
        for name, kind in columns.items():
            if name not in have:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


CAPTURE_COLUMNS = (
    "session, width, height, fps, started_at, ended_at, seq_count, dropped, lost, manifest_sends"
)


class FrameState(IntEnum):
    CAPTURED = 0
    READY = 1
    ACKED = 2
    HELD = 3


@dataclass(frozen=True)
class CapturedFrame:
    """A spooled frame waiting for its keypoints."""

    session: str
    seq: int
    capture_ns: int
    width: int
    height: int
    jpeg: bytes
    truth: bytes | None


@dataclass(frozen=True)
class CaptureRecord:
    """What the spool knows about one capture, enough to build its manifest."""

    session: str
    width: int
    height: int
    fps: float
    started_at: float
    ended_at: float | None
    seq_count: int | None
    dropped: list[int]  # never spooled (a full ring)
    manifest_sends: int  # times the broker acknowledged the manifest
    lost: list[int] = field(default_factory=list)  # spooled, did not decode: quarantined


Key = tuple[str, int]  # (session, seq)


def capture_record(row: tuple[Any, ...]) -> CaptureRecord:
    session, width, height, fps, started, ended, count, dropped, lost, acked = row
    return CaptureRecord(
        session=str(session),
        width=int(width),
        height=int(height),
        fps=float(fps),
        started_at=float(started),
        ended_at=None if ended is None else float(ended),
        seq_count=None if count is None else int(count),
        dropped=json.loads(dropped),
        lost=json.loads(lost),
        manifest_sends=int(acked),
    )
