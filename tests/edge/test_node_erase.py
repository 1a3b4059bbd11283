"""Deletion reaches the nodes: the cloud's erase request through Mosquitto with the booth's
generated ACL, each node's answer, a node that was offline, a node that never had it."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr
from sqlalchemy import select

from cloud import node_erasure
from cloud.db.engine import transaction
from cloud.db.models import Node, NodeErasure
from cloud.mqtt.accounts import CLOUD_USER, BrokerAccounts, node_username, write_broker_config
from cloud.retention import ALL_PARTS, Removal, erase
from edge.node import EdgeNode
from edge.settings import EdgeSettings, NodeIdentity, PublisherSettings, SpoolSettings
from edge.sources.base import FrameSource
from protocol.settings import MqttSettings
from protocol.topics import Topics
from tests.cloud.test_uploader import Running, cloud_settings
from tests.cloud.traffic import wait_for
from tests.edge.helpers import PatternSource, TruthEstimator
from tests.services import Mosquitto, run_mosquitto

pytestmark = pytest.mark.services

NODES = ("node1", "node2", "node3")
T = TypeVar("T")


@pytest.fixture
def secured() -> Iterator[tuple[Mosquitto, dict[str, str]]]:
    out = Path(tempfile.mkdtemp(prefix="dancebooth-erase-acl-"))
    out.chmod(0o755)  # Mosquitto started as root reads these after dropping privileges
    passwords = write_broker_config(BrokerAccounts("booth1", NODES), out)
    for name in ("passwd", "acl"):
        (out / name).chmod(0o644)
    try:
        extra = f"password_file {out / 'passwd'}\nacl_file {out / 'acl'}\n"
        with run_mosquitto(extra, anonymous=False) as broker:
            yield broker, passwords
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _node(broker: Mosquitto, spools: Path, node: str, passwords: dict[str, str]) -> EdgeNode:
    user = node_username("booth1", node)
    settings = EdgeSettings(
        node=NodeIdentity(node=node),
        mqtt=MqttSettings(
            host=broker.host, port=broker.port, username=user, password=SecretStr(passwords[user])
        ),
        spool=SpoolSettings(path=spools / node),
        publisher=PublisherSettings(stats_interval_s=0.5, reconnect_max_s=1),
    )

    def sources(fps: float, duration_s: float | None) -> FrameSource:
        return PatternSource(64, 48, fps)

    return EdgeNode(settings, estimator=TruthEstimator(), sources=sources)


@pytest.fixture
def cloud(
    secured: tuple[Mosquitto, dict[str, str]], tmp_path: Path
) -> Iterator[tuple[Running, Mosquitto, dict[str, str]]]:
    broker, passwords = secured
    settings = cloud_settings(tmp_path / "cloud", broker.port, session_expiry_s=300)
    mqtt_settings = settings.mqtt.model_copy(
        update={"username": CLOUD_USER, "password": SecretStr(passwords[CLOUD_USER])}
    )
    r = Running(settings.model_copy(update={"mqtt": mqtt_settings}))
    r.uploader.start()
    yield r, broker, passwords
    r.uploader.stop()
    r.engine.dispose()


def _confirmed(r: Running, session: str) -> dict[str, str]:
    with r.factory() as db:
        return {c.node: c.state for c in node_erasure.confirmations(db, session)}


def _retained_erase_requests(broker: Mosquitto, password: str) -> list[str]:
    """Topics of the erase requests a new subscriber is handed at once (the retained ones)."""
    got: list[str] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(CLOUD_USER, password)
    client.on_message = lambda _c, _u, msg: got.append(msg.topic) if msg.payload else None
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.subscribe(Topics().erase_filter("booth1"), qos=1)
    time.sleep(1.0)
    client.loop_stop()
    client.disconnect()
    return got


def test_erase_reaches_every_node_and_one_offline_gets_it_on_reconnect(
    cloud: tuple[Running, Mosquitto, dict[str, str]], tmp_path: Path
) -> None:
    r, broker, passwords = cloud
    spools = tmp_path / "spools"
    nodes = {n: _node(broker, spools, n, passwords) for n in NODES}
    for node in nodes.values():
        node.start()
    try:
        for name in ("node1", "node2"):  # node3 films nothing of the session
            nodes[name].capture("s1", 1.0, fps=30)
        for name in ("node1", "node2"):
            assert nodes[name].wait_idle(30)
        wait_for(lambda: len(_all(r, Node)) == 3, what="3 nodes seen")
        # Acknowledged frames stay in the spool for resend requests (keep_acked_s).
        assert nodes["node1"].spool.holds("s1") and nodes["node2"].spool.holds("s1")
        nodes.pop("node2").stop()  # offline when the visitor deletes their data

        with transaction(r.factory) as db:
            done = erase(db, r.storage, Removal("s1", ALL_PARTS, visitor=True, why="test"))
        assert done.nodes == list(NODES)
        assert _confirmed(r, "s1") == dict.fromkeys(NODES, "pending")

        wait_for(lambda: _confirmed(r, "s1")["node1"] == "erased", what="node1 confirms")
        wait_for(lambda: _confirmed(r, "s1")["node3"] == "unknown", what="node3 answers")
        assert not nodes["node1"].spool.holds("s1")
        assert _confirmed(r, "s1")["node2"] == "pending"
        assert _retained_erase_requests(broker, passwords[CLOUD_USER]) == [
            Topics().erase("booth1", "s1")
        ]

        nodes["node2"] = node2 = _node(broker, spools, "node2", passwords)
        node2.start()  # the retained request is delivered on subscribing
        wait_for(lambda: _confirmed(r, "s1")["node2"] == "erased", what="node2 on reconnect")
        assert not node2.spool.holds("s1")
        assert node2.spool.sessions() == []
        rows = {row.node_id: row for row in _all(r, NodeErasure)}
        assert rows["node1"].frames == 30 and rows["node2"].frames == 30
        wait_for(
            lambda: all(row.cleared_at is not None for row in _all(r, NodeErasure)),
            what="the request cleared once every node confirmed",
        )
        assert _retained_erase_requests(broker, passwords[CLOUD_USER]) == []
    finally:
        for node in nodes.values():
            node.stop()


def _all(r: Running, model: type[T]) -> list[T]:
    with r.factory() as db:
        return list(db.scalars(select(model)))


def test_a_node_account_can_answer_but_not_issue_or_clear_an_erase_request(
    secured: tuple[Mosquitto, dict[str, str]],
) -> None:
    broker, passwords = secured
    user = node_username("booth1", "node1")
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, passwords[user])
    acks: dict[int, int] = {}
    client.on_publish = lambda _c, _u, mid, reason, _p: acks.__setitem__(mid, reason.value)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        forged = client.publish(Topics().erase("booth1", "s1"), b"{}", qos=1, retain=True)
        answer = client.publish(Topics().erased("booth1", "node1", "s1"), b"{}", qos=1)
        other = client.publish(Topics().erased("booth1", "node2", "s1"), b"{}", qos=1)
        wait_for(lambda: {forged.mid, answer.mid, other.mid} <= set(acks), what="PUBACKs")
    finally:
        client.loop_stop()
        client.disconnect()
    assert acks[answer.mid] < 0x80  # its own answer topic (0x10: nobody subscribed)
    assert acks[forged.mid] == 0x87 and acks[other.mid] == 0x87  # Not authorized
    assert _retained_erase_requests(broker, passwords[CLOUD_USER]) == []
