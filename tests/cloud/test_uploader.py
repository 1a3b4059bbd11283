"""The uploader against real brokers: Mosquitto with the project's config, and amqtt."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cloud.db.engine import make_engine, session_factory, upgrade_database
from cloud.db.lifecycle import state_of
from cloud.db.models import Frame, Job, Node
from cloud.db.states import SessionState
from cloud.ingest.reader import iter_session_frames
from cloud.ingest.uploader import Uploader
from cloud.mqtt.broker import EmbeddedBroker
from cloud.settings import CloudSettings
from cloud.storage import create_storage
from protocol.messages import NodeState, NodeStatus
from tests.cloud.traffic import (
    BOOTH,
    TOPICS,
    Publisher,
    ResendingNode,
    manifest_for,
    packet,
    wait_for,
)
from tests.services import Mosquitto


def cloud_settings(
    tmp_path: Path, port: int, db_url: str | None = None, **uploader: object
) -> CloudSettings:
    return CloudSettings.model_validate(
        {
            "booth": BOOTH,
            "database": {"url": db_url or f"sqlite:///{tmp_path / 'db.sqlite'}"},
            "storage": {"type": "local", "root": str(tmp_path / "store")},
            "mqtt": {"host": "127.0.0.1", "port": port},
            "uploader": {
                "batch_seconds": 0.05,
                "resend_after_s": 0.3,
                "resend_interval_s": 1.0,
                **uploader,
            },
            # These tests are about transport: QA scores their packets, never holds them.
            "qa": {"auto_accept": True},
        }
    )


class Running:
    def __init__(self, settings: CloudSettings) -> None:
        upgrade_database(settings.database.url)
        self.engine = make_engine(settings.database.url)
        self.factory = session_factory(self.engine)
        self.storage = create_storage(settings.storage)
        self.uploader = Uploader(settings, self.storage, self.engine)

    def frames(self) -> int:
        with self.factory() as db:
            return int(db.scalar(select(func.count()).select_from(Frame)) or 0)

    def state(self, session: str = "s1") -> SessionState | None:
        with self.factory() as db:
            return state_of(db, session)


@pytest.fixture
def running(mosquitto: Mosquitto, tmp_path: Path, db_url: str) -> Iterator[Running]:
    """An uploader on Mosquitto, with SQLite and with PostgreSQL."""
    r = Running(cloud_settings(tmp_path, mosquitto.port, db_url))
    r.uploader.start()
    yield r
    r.uploader.stop()
    r.engine.dispose()


def test_duplicated_shuffled_traffic_lands_once_and_completes(
    running: Running, mosquitto: Mosquitto
) -> None:
    assert running.uploader.v5 and running.uploader.shared
    packets = [packet(s, node=n) for n in ("node1", "node2") for s in range(100)]
    traffic = packets * 3
    random.Random(1).shuffle(traffic)
    pub = Publisher(mosquitto.host, mosquitto.port)
    status = NodeStatus(node="node1", state=NodeState.CAPTURING, at=1e9, session="s1")
    pub.publish(TOPICS.status(BOOTH, "node1"), status.to_bytes(), retain=True)
    pub.frames(traffic)
    pub.flush()
    for node in ("node1", "node2"):
        pub.manifest(manifest_for("s1", node, 100))
    pub.flush()
    wait_for(lambda: running.state() is SessionState.QUEUED, what="session queued")
    pub.close()
    assert running.frames() == 200
    got = [
        (m.node, m.seq, j) for m, j in iter_session_frames(running.storage, running.factory, "s1")
    ]
    assert [(n, s) for n, s, _ in got] == [(p.node, p.seq) for p in packets]
    assert [j for _, _, j in got] == [p.jpeg for p in packets]
    with running.factory() as db:
        assert db.scalar(select(func.count()).select_from(Job)) == 1
        node = db.get(Node, (BOOTH, "node1"))
        assert node is not None and node.state == "capturing" and node.session_id == "s1"
    assert running.uploader.stats.dead_letters == 0


def test_gaps_after_a_manifest_are_resent(running: Running, mosquitto: Mosquitto) -> None:
    packets = {s: packet(s) for s in range(60)}
    node = ResendingNode(mosquitto.host, mosquitto.port, packets, "node1")
    pub = Publisher(mosquitto.host, mosquitto.port)
    missing = {0, 7, 8, 9, 30, 59}
    pub.frames(p for s, p in packets.items() if s not in missing)
    pub.manifest(manifest_for("s1", "node1", 60))
    pub.flush()
    wait_for(lambda: running.state() is SessionState.QUEUED, what="session complete")
    assert running.frames() == 60
    asked = {s for r in node.requests for rng in r.ranges for s in range(rng.first, rng.last + 1)}
    assert asked == missing
    pub.close()
    node.close()


def test_embedded_broker_falls_back_to_311_and_plain_subscription(tmp_path: Path) -> None:
    with EmbeddedBroker() as broker:
        r = Running(cloud_settings(tmp_path, broker.port))
        with r.uploader:
            assert not r.uploader.v5 and not r.uploader.shared
            pub = Publisher(broker.host, broker.port, v5=False)
            pub.frames(packet(s) for s in range(30))
            pub.manifest(manifest_for("s1", "node1", 30))
            pub.flush()
            wait_for(lambda: r.state() is SessionState.QUEUED, what="session complete")
            pub.close()
        assert r.frames() == 30
        r.engine.dispose()


def test_store_outage_is_retried_without_acking_or_losing(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    from tests.cloud.ingest.test_ingestor import FailingStorage

    r = Running(cloud_settings(tmp_path, mosquitto.port))
    failing = FailingStorage(tmp_path / "store")
    failing.fail_puts = 3  # the object store "goes down" for three attempts
    r.storage = failing
    r.uploader = Uploader(r.uploader.settings, failing, r.engine)
    with r.uploader:
        pub = Publisher(mosquitto.host, mosquitto.port)
        pub.frames(packet(s) for s in range(50))
        pub.manifest(manifest_for("s1", "node1", 50))
        pub.flush()
        wait_for(lambda: r.state() is SessionState.QUEUED, timeout=30, what="recovery")
        pub.close()
    assert r.uploader.stats.retries >= 3 and r.uploader.stats.dead_letters == 0
    assert [m.seq for m, _ in iter_session_frames(failing, r.factory, "s1")] == list(range(50))
    r.engine.dispose()
