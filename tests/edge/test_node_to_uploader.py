"""The node and the cloud's real uploader through Mosquitto: the wire contract end to end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from cloud.db.models import Shard
from cloud.db.states import SessionState
from cloud.ingest.reader import iter_session_frames
from edge.node import EdgeNode
from edge.settings import EdgeSettings, PublisherSettings, SpoolSettings, SyntheticSource
from protocol.settings import MqttSettings
from protocol.shards import read_shard
from tests.cloud.test_uploader import Running, cloud_settings
from tests.cloud.traffic import wait_for
from tests.services import Mosquitto

pytestmark = pytest.mark.services


@pytest.fixture
def uploader(mosquitto: Mosquitto, tmp_path: Path) -> Iterator[Running]:
    r = Running(cloud_settings(tmp_path / "cloud", mosquitto.port, session_expiry_s=300))
    r.uploader.start()
    yield r
    r.uploader.stop()
    r.engine.dispose()


def _node(broker: Mosquitto, tmp_path: Path, realtime: bool) -> EdgeNode:
    settings = EdgeSettings(
        mqtt=MqttSettings(host=broker.host, port=broker.port),
        spool=SpoolSettings(path=tmp_path / "spool"),
        source=SyntheticSource(seed=2, realtime=realtime),
        publisher=PublisherSettings(reconnect_max_s=1, stats_interval_s=0.5, manifest_repeat_s=1),
    )
    settings.capture.width, settings.capture.height = 128, 96
    return EdgeNode(settings)


def test_the_uploader_stores_a_node_capture_completely(
    mosquitto: Mosquitto, uploader: Running, tmp_path: Path
) -> None:
    (tmp_path / "cloud").mkdir(exist_ok=True)
    node = _node(mosquitto, tmp_path, realtime=False)
    node.start()
    try:
        node.capture("s1", 5.0, fps=30)
        assert node.wait_idle(60)
        wait_for(lambda: uploader.state() is SessionState.QUEUED, what="session complete")
    finally:
        node.stop()
    assert uploader.frames() == 150
    stored = list(iter_session_frames(uploader.storage, uploader.factory, "s1"))
    assert [m.seq for m, _ in stored] == list(range(150))
    assert uploader.uploader.stats.dead_letters == 0
    # The replay backend's exact masks reach the shards; frames without one are counted
    # the same on both sides.
    with uploader.factory() as db:
        keys = db.scalars(select(Shard.key)).all()
    masks = [f.mask for k in keys for f in read_shard(uploader.storage.get(k))]
    unmasked = sum(m is None for m in masks)
    assert unmasked == uploader.uploader.stats.unmasked == node.annotator.counters.unmasked
    assert unmasked == 0  # the mask survives the spool, so even decoded frames keep it
    assert all(m.shape == (96, 128) for m in masks if m is not None)


def test_broker_killed_mid_capture_the_uploader_still_gets_everything(
    mosquitto: Mosquitto, uploader: Running, tmp_path: Path
) -> None:
    node = _node(mosquitto, tmp_path, realtime=True)
    node.start()
    try:
        node.capture("s1", 3.0, fps=30)
        time.sleep(1.0)
        mosquitto.kill()
        time.sleep(1.0)
        mosquitto.start()
        # Frames the broker acknowledged and then lost are asked for again by the
        # uploader's completeness check (resend requests), and served from the spool.
        wait_for(
            lambda: uploader.state() is SessionState.QUEUED,
            timeout=15,
            what="session complete after the outage",
        )
    finally:
        node.stop()
    assert uploader.frames() == 90
    assert uploader.uploader.stats.dead_letters == 0
