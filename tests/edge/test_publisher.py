"""The publisher on its own: TLS, a broker that is down at start, manifests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from edge.publisher import Publisher, manifest_for
from edge.settings import PublisherSettings
from edge.spool import CaptureRecord, Spool
from protocol.codec import FramePacket, encode_packet
from protocol.settings import MqttSettings, TlsSettings
from tests.edge.collector import Collector
from tests.edge.helpers import standing
from tests.services import Mosquitto, free_port, missing, run_mosquitto, wait_for_port

pytestmark = pytest.mark.services

JPEG = b"\xff\xd8" + b"j" * 500 + b"\xff\xd9"


def _spool_packets(spool: Spool, session: str, n: int) -> None:
    spool.begin_capture(session, 64, 48, 30.0, 1.0)
    for i in range(n):
        spool.add_frame(session, i, 10**9 + i, 64, 48, JPEG)
        packet = FramePacket(session, "node1", i, 10**9 + i, 64, 48, standing(64, 48), JPEG)
        spool.set_packet(session, i, encode_packet(packet))
    spool.end_capture(session, 2.0, n, [], 30.0)


@pytest.fixture
def tls_files() -> Iterator[Path]:
    """A self-signed certificate for 127.0.0.1 that the broker can read after dropping root."""
    if shutil.which("openssl") is None:
        missing("openssl", "apt-get install openssl")
    directory = Path(tempfile.mkdtemp(prefix="dancebooth-tls-"))
    directory.chmod(0o711)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(directory / "key.pem"),
            "-out",
            str(directory / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    if os.geteuid() == 0:
        with contextlib.suppress(KeyError):
            uid = pwd.getpwnam("mosquitto").pw_uid
            for name in ("key.pem", "cert.pem"):
                os.chown(directory / name, uid, -1)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_publishes_over_tls(tls_files: Path, tmp_path: Path) -> None:
    port = free_port()
    conf = (
        f"listener {port} 127.0.0.1\ncafile {tls_files}/cert.pem\n"
        f"certfile {tls_files}/cert.pem\nkeyfile {tls_files}/key.pem\n"
    )
    with run_mosquitto(conf) as broker:
        wait_for_port(port)
        collector = Collector(broker.host, broker.port)  # plain listener, same broker
        spool = Spool(tmp_path)
        _spool_packets(spool, "stls", 5)
        tls = TlsSettings(ca_file=tls_files / "cert.pem")
        settings = MqttSettings(host="127.0.0.1", port=port, tls=tls)
        publisher = Publisher(settings, PublisherSettings(), "booth1", "node1", spool)
        publisher.start()
        try:
            assert publisher.connected.is_set()
            assert collector.wait_for(lambda: collector.complete("stls"), 10)
        finally:
            publisher.stop()
            collector.close()


def test_a_broker_down_at_start_is_waited_for(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    _spool_packets(spool, "sdown", 20)
    port = free_port()
    settings = MqttSettings(host="127.0.0.1", port=port)
    pub = PublisherSettings(connect_timeout_s=0.5, reconnect_max_s=1)
    publisher = Publisher(settings, pub, "booth1", "node1", spool)
    publisher.start()  # no broker: not an error, the node keeps spooling
    try:
        assert not publisher.connected.is_set()
        time.sleep(0.5)
        assert spool.depth() == 20
        with run_mosquitto(f"listener {port} 127.0.0.1\n") as broker:
            wait_for_port(port)
            collector = Collector(broker.host, broker.port)
            try:
                deadline = time.monotonic() + 20
                while not publisher.idle():
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
                # Acked before the collector subscribed? It asks for them again.
                assert collector.wait_for(lambda: ("sdown", "node1") in collector.manifests, 10)
                collector.request_missing("sdown")
                assert collector.wait_for(lambda: collector.complete("sdown"), 10)
            finally:
                collector.close()
    finally:
        publisher.stop()


def test_manifest_lists_drops_and_handles_an_empty_capture() -> None:
    record = CaptureRecord("s1", 64, 48, 30.0, 1.0, 2.0, 10, [3, 4], False)
    manifest = manifest_for(record, "node1")
    assert (manifest.first_seq, manifest.last_seq, manifest.frame_count) == (0, 9, 8)
    assert manifest.expected_seqs() == set(range(10)) - {3, 4}
    empty = manifest_for(CaptureRecord("s2", 64, 48, 30.0, 0.0, None, 0, [], False), "node1")
    assert empty.frame_count == 0 and empty.expected_seqs() == set()


@contextlib.contextmanager
def amqtt_broker(port: int | None = None) -> Iterator[int]:
    """The demo's embedded broker (amqtt, MQTT 3.1.1 only) on ``port`` (default: a free one)."""
    broker_mod = pytest.importorskip("amqtt.broker", reason="amqtt is in the cloud extra")
    port = port or free_port()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }

    async def start() -> object:
        broker = broker_mod.Broker(config, loop=loop)
        await broker.start()
        return broker

    broker = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield port
    finally:
        asyncio.run_coroutine_threadsafe(broker.shutdown(), loop).result(10)  # type: ignore[attr-defined]
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_falls_back_to_mqtt_311_for_the_embedded_broker(tmp_path: Path) -> None:
    with amqtt_broker() as port:
        collector = Collector("127.0.0.1", port, v5=False)
        spool = Spool(tmp_path)
        _spool_packets(spool, "s311", 10)
        settings = MqttSettings(host="127.0.0.1", port=port)
        publisher = Publisher(settings, PublisherSettings(), "booth1", "node1", spool)
        publisher.start()
        try:
            assert publisher.connected.is_set()
            assert publisher.client.protocol == mqtt.MQTTv311
            deadline = time.monotonic() + 20
            while not publisher.idle():
                assert time.monotonic() < deadline
                time.sleep(0.1)
            assert collector.wait_for(lambda: collector.complete("s311"), 10)
        finally:
            publisher.stop()
            collector.close()


def test_a_node_started_before_the_embedded_broker_connects_with_311_when_it_comes(
    tmp_path: Path,
) -> None:
    # The version is asked again until the broker answers: assuming v5 for a broker
    # that was down would leave a 3.1.1-only broker refusing the node for ever.
    port = free_port()
    spool = Spool(tmp_path)
    _spool_packets(spool, "slate", 5)
    settings = MqttSettings(host="127.0.0.1", port=port)
    fast = PublisherSettings(connect_timeout_s=1, reconnect_max_s=1)
    publisher = Publisher(settings, fast, "booth1", "node1", spool)
    publisher.start()  # nothing listens yet: the node spools meanwhile
    try:
        assert not publisher.connected.is_set()
        problem = str(publisher.connection.problem)
        assert f"cannot reach the MQTT broker at 127.0.0.1:{port}" in problem
        assert "DANCEBOOTH_EDGE_MQTT__HOST" in problem
        with amqtt_broker(port):
            collector = Collector("127.0.0.1", port, v5=False)
            try:
                assert publisher.connected.wait(15), "never connected to the late broker"
                assert publisher.client.protocol == mqtt.MQTTv311
                assert collector.wait_for(lambda: collector.complete("slate"), 15)
            finally:
                collector.close()
    finally:
        publisher.stop()


def test_manifests_are_repeated_a_few_times_after_their_ack(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    collector = Collector(mosquitto.host, mosquitto.port)
    spool = Spool(tmp_path)
    _spool_packets(spool, "srep", 3)
    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    pub = PublisherSettings(manifest_repeats=2, manifest_repeat_s=0.2)
    publisher = Publisher(settings, pub, "booth1", "node1", spool)
    publisher.start()
    try:
        assert collector.wait_for(lambda: collector.manifest_count[("srep", "node1")] == 3, 10)
        time.sleep(1.0)  # 0.2 s, then 0.6 s later, then no more
        assert collector.manifest_count[("srep", "node1")] == 3
        record = spool.capture("srep")
        assert record is not None and record.manifest_sends == 3
    finally:
        publisher.stop()
        collector.close()
