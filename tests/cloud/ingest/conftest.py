"""An ingestor on a migrated database (SQLite and PostgreSQL) and a local store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.engine import session_factory
from cloud.ingest.frames import FrameStore
from cloud.ingest.ingestor import Incoming, Ingestor
from cloud.storage import Storage
from cloud.storage.local import LocalStorage
from edge.bench.codec import sample_packet
from protocol.codec import FramePacket, encode_packet
from protocol.topics import Topics

TOPICS = Topics()
BOOTH = "booth1"


def packet(seq: int, session: str = "s1", node: str = "node1", size: int = 2000) -> FramePacket:
    p = sample_packet(seq, size)
    p.session, p.node = session, node
    return p


def frame_message(p: FramePacket) -> Incoming:
    return Incoming(TOPICS.frames(BOOTH, p.node, p.session), encode_packet(p))


@dataclass
class Rig:
    ingestor: Ingestor
    storage: Storage
    factory: sessionmaker[Db]


def make_rig(engine: Engine, storage: Storage) -> Rig:
    factory = session_factory(engine)
    store = FrameStore(storage, factory, owner="test")
    return Rig(Ingestor(BOOTH, TOPICS, store, factory, keep_bytes=140_000), storage, factory)


@pytest.fixture
def rig(engine: Engine, tmp_path: Path) -> Rig:
    return make_rig(engine, LocalStorage(tmp_path / "store"))
