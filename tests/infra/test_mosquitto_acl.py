"""Mosquitto with the generated passwd + ACL: a node cannot publish into another node's
topics, nobody gets in without a password, and the uploader works with its account."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

from cloud.mqtt.accounts import (
    MIRROR_USER,
    BrokerAccounts,
    hash_password,
    node_username,
    write_broker_config,
)
from tests.services import MOSQUITTO_CONF, Mosquitto, run_mosquitto

REPO = Path(__file__).resolve().parents[2]
BOOTH = "booth1"


@pytest.fixture(scope="module")
def secured() -> Iterator[tuple[Mosquitto, dict[str, str]]]:
    # Not under pytest's 0700 tmp dir: Mosquitto started as root reads these files
    # after dropping to its own user.
    out = Path(tempfile.mkdtemp(prefix="dancebooth-acl-"))
    out.chmod(0o755)
    passwords = write_broker_config(BrokerAccounts(BOOTH, ("node1", "node2")), out)
    for name in ("passwd", "acl"):
        (out / name).chmod(0o644)
    extra = f"password_file {out / 'passwd'}\nacl_file {out / 'acl'}\n"
    try:
        with run_mosquitto(extra, anonymous=False) as broker:
            yield broker, passwords
    finally:
        shutil.rmtree(out, ignore_errors=True)


class Client:
    def __init__(self, broker: Mosquitto, username: str | None, password: str | None) -> None:
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if username:
            self.c.username_pw_set(username, password)
        self.connack: Any = None
        self.acks: dict[int, Any] = {}
        self.subacks: list[Any] = []
        self.received: list[str] = []
        self.event = threading.Event()
        self.c.on_connect = self._on_connect
        self.c.on_publish = lambda _c, _u, mid, rc, _p: self.acks.__setitem__(mid, rc)
        self.c.on_subscribe = lambda _c, _u, _m, rcs, _p: self.subacks.extend(rcs)
        self.c.on_message = lambda _c, _u, msg: self.received.append(msg.topic)
        self.c.connect(broker.host, broker.port)
        self.c.loop_start()
        assert self.event.wait(10)

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connack = reason
        self.event.set()

    def publish(self, topic: str) -> Any:
        info = self.c.publish(topic, b"x", qos=1)
        deadline = time.monotonic() + 5
        while info.mid not in self.acks and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.acks[info.mid]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_password_hash_matches_mosquitto_format() -> None:
    h = hash_password("secret", salt=b"0123456789ab")
    assert h.startswith("$7$101$MDEyMzQ1Njc4OWFi$") and len(h.split("$")[-1]) == 88


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_node_cannot_publish_into_another_nodes_topics(
    secured: tuple[Mosquitto, dict[str, str]],
) -> None:
    broker, passwords = secured
    cloud = Client(broker, "cloud", passwords["cloud"])
    cloud.c.subscribe("dancebooth/#", qos=1)
    _wait_for(lambda: len(cloud.subacks) >= 1)  # subscribed before anything is published
    user = node_username(BOOTH, "node1")
    node1 = Client(broker, user, passwords[user])
    assert not node1.connack.is_failure
    own = node1.publish("dancebooth/booth1/node/node1/frames/s1")
    other = node1.publish("dancebooth/booth1/node/node2/frames/s1")
    command = node1.publish("dancebooth/booth1/cmd/capture")
    other_booth = node1.publish("dancebooth/booth2/node/node1/frames/s1")
    assert not own.is_failure
    assert all(
        rc.is_failure and "authori" in str(rc).lower() for rc in (other, command, other_booth)
    )
    _wait_for(lambda: len(cloud.received) >= 1)
    time.sleep(0.3)  # anything refused that slipped through would arrive by now
    assert cloud.received == ["dancebooth/booth1/node/node1/frames/s1"]
    # Reading: node1 may not read node2's frames, and may read its booth's commands. (A
    # fresh client: paho drops the connection after a refused PUBACK and reconnects.)
    node1.close()
    node1 = Client(broker, user, passwords[user])
    node1.c.subscribe(
        [("dancebooth/booth1/node/node2/frames/+", 1), ("dancebooth/booth1/cmd/+", 1)]
    )
    deadline = time.monotonic() + 5
    while len(node1.subacks) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    user2 = node_username(BOOTH, "node2")
    node2 = Client(broker, user2, passwords[user2])
    assert not node2.publish("dancebooth/booth1/node/node2/frames/s1").is_failure
    assert not cloud.publish("dancebooth/booth1/cmd/capture").is_failure
    _wait_for(lambda: len(node1.received) >= 1)
    time.sleep(0.3)
    assert node1.received == ["dancebooth/booth1/cmd/capture"]
    for c in (cloud, node1, node2):
        c.close()


def test_mirror_account_reads_live_keypoints_and_nothing_else(
    secured: tuple[Mosquitto, dict[str, str]],
) -> None:
    broker, passwords = secured
    mirror = Client(broker, MIRROR_USER, passwords[MIRROR_USER])
    assert not mirror.connack.is_failure
    mirror.c.subscribe([("dancebooth/booth1/node/+/live", 0), ("dancebooth/booth1/node/+/+/+", 1)])
    _wait_for(lambda: len(mirror.subacks) >= 2)
    user = node_username(BOOTH, "node1")
    node1 = Client(broker, user, passwords[user])
    assert not node1.publish("dancebooth/booth1/node/node1/live").is_failure
    assert not node1.publish("dancebooth/booth1/node/node1/frames/s1").is_failure
    _wait_for(lambda: len(mirror.received) >= 1)
    time.sleep(0.3)  # a frame that slipped through the ACL would arrive by now
    assert mirror.received == ["dancebooth/booth1/node/node1/live"]
    refused = mirror.publish("dancebooth/booth1/cmd/capture")
    assert refused.is_failure
    for c in (mirror, node1):
        c.close()


@pytest.mark.parametrize(
    ("user", "password"), [(None, None), ("booth1.node1", "wrong"), ("intruder", "x")]
)
def test_no_entry_without_a_valid_password(
    secured: tuple[Mosquitto, dict[str, str]], user: str | None, password: str | None
) -> None:
    client = Client(secured[0], user, password)
    assert client.connack.is_failure
    client.close()


def test_production_conf_repeats_the_shared_settings() -> None:
    def directives(text: str) -> set[str]:
        return {ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")}

    production = (REPO / "infra" / "mosquitto" / "production.conf").read_text()
    assert directives(MOSQUITTO_CONF.read_text()) <= directives(production)


def test_uploader_with_the_cloud_account_and_a_node_account(
    secured: tuple[Mosquitto, dict[str, str]], tmp_path: Path
) -> None:
    from cloud.db.states import SessionState
    from tests.cloud.test_uploader import Running, cloud_settings
    from tests.cloud.traffic import Publisher, manifest_for, packet, wait_for

    broker, passwords = secured
    settings = cloud_settings(tmp_path, broker.port)
    settings.mqtt.username, settings.mqtt.password = "cloud", SecretStr(passwords["cloud"])
    r = Running(settings)
    with r.uploader:
        assert r.uploader.shared
        user = node_username(BOOTH, "node1")
        pub = Publisher(broker.host, broker.port, username=user, password=passwords[user])
        pub.frames(packet(s) for s in range(20))
        pub.manifest(manifest_for("s1", "node1", 20))
        pub.flush()
        wait_for(lambda: r.state() is SessionState.QUEUED, what="session complete")
        pub.close()
    assert r.frames() == 20
    r.engine.dispose()
