"""The node behind the booth's generated credentials and ACL (cloud broker-config)."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from cloud.mqtt.accounts import CLOUD_USER, BrokerAccounts, node_username, write_broker_config
from edge.node import EdgeNode
from edge.settings import EdgeSettings, NodeIdentity, PublisherSettings, SpoolSettings
from edge.sources.base import FrameSource
from protocol.settings import MqttSettings
from tests.edge.collector import Collector
from tests.edge.helpers import PatternSource, TruthEstimator
from tests.services import Mosquitto, run_mosquitto

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def secured() -> Iterator[tuple[Mosquitto, dict[str, str]]]:
    out = Path(tempfile.mkdtemp(prefix="dancebooth-edge-acl-"))
    out.chmod(0o755)  # Mosquitto started as root reads these after dropping privileges
    passwords = write_broker_config(BrokerAccounts("booth1", ("node1", "node2")), out)
    for name in ("passwd", "acl"):
        (out / name).chmod(0o644)
    try:
        extra = f"password_file {out / 'passwd'}\nacl_file {out / 'acl'}\n"
        with run_mosquitto(extra, anonymous=False) as broker:
            yield broker, passwords
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _node(broker: Mosquitto, tmp_path: Path, node: str, user: str, password: str) -> EdgeNode:
    settings = EdgeSettings(
        node=NodeIdentity(node=node),
        mqtt=MqttSettings(
            host=broker.host, port=broker.port, username=user, password=SecretStr(password)
        ),
        spool=SpoolSettings(path=tmp_path / node),
        publisher=PublisherSettings(stats_interval_s=0.5),
    )

    def sources(fps: float, duration_s: float | None) -> FrameSource:
        return PatternSource(64, 48, fps)

    return EdgeNode(settings, estimator=TruthEstimator(), sources=sources)


def _cloud(broker: Mosquitto, passwords: dict[str, str]) -> Collector:
    return Collector(broker.host, broker.port, username=CLOUD_USER, password=passwords[CLOUD_USER])


def test_a_node_with_its_own_account_delivers_through_the_acl(
    secured: tuple[Mosquitto, dict[str, str]], tmp_path: Path
) -> None:
    broker, passwords = secured
    user = node_username("booth1", "node1")
    collector = _cloud(broker, passwords)
    node = _node(broker, tmp_path, "node1", user, passwords[user])
    node.start()
    try:
        node.capture("sacl", 1.0, fps=30)
        assert node.wait_idle(30)
        assert collector.wait_for(lambda: collector.complete("sacl"), 10)
        # The live stream's own connection (same account, "-live" client id) gets through.
        assert collector.wait_for(lambda: len(collector.live) > 0, 10)
    finally:
        node.stop()
        collector.close()


def test_publishing_outside_its_topics_is_refused_and_nothing_is_deleted(
    secured: tuple[Mosquitto, dict[str, str]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker, passwords = secured
    user = node_username("booth1", "node1")  # node1's account, configured as node2
    node = _node(broker, tmp_path, "node2", user, passwords[user])
    node.start()
    try:
        with caplog.at_level(logging.ERROR, logger="edge.publisher"):
            started = time.monotonic()
            node.capture("sdeny", 0.5, fps=30)
            # Mosquitto 2.0 answers "Not authorized" and then drops the connection, so
            # refusals arrive one per reconnect, and only when the broker's refusal
            # reaches us before its reset does (a race on its side: some reconnects
            # carry none, and 15 s of them sometimes carried no second one).
            deadline = time.monotonic() + 45
            while node.publisher.refusals < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert node.publisher.refusals >= 2
            elapsed = time.monotonic() - started
        assert node.spool.depth() == 15  # every frame kept for when the ACL is fixed
        assert "Not authorized" in caplog.text
        # One line per 10 s burst, not one per refused frame.
        assert 1 <= caplog.text.count("broker refused") <= 1 + int(elapsed // 10)
    finally:
        node.stop()
