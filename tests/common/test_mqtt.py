"""The one MQTT client setup (common/mqtt.py) against a real Mosquitto and the embedded
amqtt broker: the version found, one behaviour on an unreachable broker, refusals."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from common.mqtt import (
    BrokerRefusedError,
    BrokerUnreachableError,
    ClientOptions,
    Connection,
)
from protocol.settings import MqttSettings
from tests.edge.test_node_process import passwd  # noqa: F401 - a fixture
from tests.edge.test_publisher import amqtt_broker
from tests.services import Mosquitto, free_port, run_mosquitto

pytestmark = pytest.mark.services


def _options(client_id: str = "test-client", **kw: object) -> ClientOptions:
    defaults: dict[str, object] = {"connect_timeout_s": 2, "reconnect_max_s": 1}
    return ClientOptions(client_id, env_prefix="DANCEBOOTH_TEST_", **(defaults | kw))  # type: ignore[arg-type]


def _roundtrip(connection: Connection) -> bytes:
    """Publish to ourselves through the broker; return what came back."""
    got: list[bytes] = []
    done = threading.Event()
    client = connection.client
    client.on_message = lambda _c, _u, msg: (got.append(msg.payload), done.set())
    client.subscribe("t/echo", qos=1)
    time.sleep(0.2)
    client.publish("t/echo", b"hello", qos=1)
    assert done.wait(5)
    return got[0]


def test_mosquitto_gets_v5_and_every_connect_runs_the_hook(mosquitto: Mosquitto) -> None:
    connects: list[int] = []
    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    connection = Connection(settings, _options(), on_connect=lambda c: connects.append(1))
    connection.connect()
    try:
        assert connection.v5 is True and connects == [1]
        assert _roundtrip(connection) == b"hello"
        mosquitto.start()  # restarted: paho reconnects, the hook runs again
        deadline = time.monotonic() + 15
        while connects != [1, 1] or not connection.is_connected():
            assert time.monotonic() < deadline, "no reconnect after a broker restart"
            time.sleep(0.05)
    finally:
        connection.stop()
    assert not connection.is_connected()


def test_the_embedded_broker_gets_311() -> None:
    with amqtt_broker() as port:
        connection = Connection(MqttSettings(host="127.0.0.1", port=port), _options())
        connection.connect()
        try:
            assert connection.v5 is False
            assert _roundtrip(connection) == b"hello"
        finally:
            connection.stop()


def test_an_unreachable_broker_is_a_clear_error_that_says_what_to_set() -> None:
    port = free_port()  # nothing listens there
    settings = MqttSettings(host="127.0.0.1", port=port)
    for version in ("auto", "v5", "v311"):
        started = time.monotonic()
        with pytest.raises(BrokerUnreachableError) as caught:
            Connection(settings, _options(version=version)).connect()
        assert time.monotonic() - started < 6, "connect() gives up after connect_timeout_s"
        message = str(caught.value)
        assert f"cannot reach the MQTT broker at 127.0.0.1:{port}" in message
        assert "Connection refused" in message
        assert "DANCEBOOTH_TEST_MQTT__HOST / DANCEBOOTH_TEST_MQTT__PORT" in message


def test_started_before_the_broker_it_connects_when_the_broker_comes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    settings = MqttSettings(host="127.0.0.1", port=port)
    connection = Connection(settings, _options())
    with caplog.at_level(logging.WARNING, logger="common.mqtt"):
        assert connection.start(wait_s=3.5) is False  # several attempts meanwhile
    try:
        assert isinstance(connection.problem, BrokerUnreachableError)
        with pytest.raises(BrokerUnreachableError):
            _ = connection.client  # no client before the broker answered
        reports = [r for r in caplog.records if "cannot reach" in r.getMessage()]
        assert len(reports) == 1, "reported once a minute, not at every attempt"
        with amqtt_broker(port):
            assert connection.connected.wait(15)
            assert connection.v5 is False, "the version is asked once the broker answers"
            assert connection.problem is None
    finally:
        connection.stop()


def test_refused_credentials_name_the_settings(passwd: str) -> None:  # noqa: F811
    with run_mosquitto(f"password_file {passwd}\n", anonymous=False) as broker:
        wrong = MqttSettings(host=broker.host, port=broker.port, username="node1", password="no")  # type: ignore[arg-type]
        for version in ("auto", "v5", "v311"):
            with pytest.raises(BrokerRefusedError) as caught:
                Connection(wrong, _options(version=version)).connect()
            message = str(caught.value)
            assert "refused client test-client" in message
            assert "DANCEBOOTH_TEST_MQTT__USERNAME / DANCEBOOTH_TEST_MQTT__PASSWORD" in message
        right = MqttSettings(
            host=broker.host, port=broker.port, username="node1", password="s3cret"
        )  # type: ignore[arg-type]
        connection = Connection(right, _options())
        connection.connect()
        connection.stop()


def test_forcing_v5_on_a_311_broker_says_so() -> None:
    with amqtt_broker() as port:
        settings = MqttSettings(host="127.0.0.1", port=port)
        with pytest.raises(BrokerRefusedError, match="does not speak MQTT v5"):
            Connection(settings, _options(version="v5")).connect()
