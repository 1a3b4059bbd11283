"""The API's MQTT link against a real Mosquitto: commands out, previews in, broker down."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from cloud.api.link import LinkError, MqttBoothLink
from protocol.messages import CaptureStart, decode_message
from protocol.settings import MqttSettings
from protocol.topics import Command, Topics
from tests.services import Mosquitto

pytestmark = pytest.mark.services
JPEG = b"\xff\xd8" + b"preview" * 100 + b"\xff\xd9"


def _wait(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _client(broker: Mosquitto) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.connect(broker.host, broker.port)
    c.loop_start()
    return c


def test_capture_command_and_previews(mosquitto: Mosquitto) -> None:
    link = MqttBoothLink(MqttSettings(host=mosquitto.host, port=mosquitto.port), "booth1")
    received: list[bytes] = []
    subscribed = threading.Event()
    node = _client(mosquitto)
    node.on_message = lambda _c, _u, msg: received.append(msg.payload)
    node.on_subscribe = lambda *_args: subscribed.set()
    node.subscribe(Topics().commands_filter("booth1"), qos=1)
    try:
        assert subscribed.wait(10)
        _wait(link.is_connected)
        start = CaptureStart(session="s123", start_at=time.time() + 3, duration_s=15)
        link.start_capture("booth1", start)
        _wait(lambda: received)
        assert decode_message(CaptureStart, received[0]) == start

        node.publish(Topics().preview("booth1", "cam-bad"), b"not a jpeg", qos=1)
        node.publish(Topics().preview("booth1", "cam-left"), JPEG, qos=1)
        _wait(lambda: link.preview("cam-left") is not None)
        assert link.preview("cam-left") == JPEG
        assert link.preview("cam-bad") is None, "a payload that is not a JPEG is not shown"
    finally:
        node.loop_stop()
        node.disconnect()
        link.close()


def test_send_without_broker_is_a_clear_error(mosquitto: Mosquitto) -> None:
    link = MqttBoothLink(MqttSettings(host=mosquitto.host, port=mosquitto.port), "booth1")
    try:
        _wait(link.is_connected)
        mosquitto.stop()
        _wait(lambda: not link.is_connected())
        with pytest.raises(LinkError, match=r"not reachable.*mqtt\.host / mqtt\.port"):
            link.send(
                "booth1", Command.CAPTURE, CaptureStart(session="s1", start_at=1, duration_s=1)
            )
    finally:
        link.close()


def test_a_broker_without_v5_gets_mqtt_311() -> None:
    # The embedded demo broker (amqtt) speaks 3.1.1 only and refuses a v5 CONNECT.
    from cloud.mqtt.broker import EmbeddedBroker

    with EmbeddedBroker() as broker:
        link = MqttBoothLink(MqttSettings(host=broker.host, port=broker.port), "booth1")
        received: list[bytes] = []
        node = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        subscribed = threading.Event()
        capture_topic = Topics().command("booth1", Command.CAPTURE)
        # Only the capture command: the link may also ping the nodes' clocks meanwhile.
        node.on_message = lambda _c, _u, msg: (
            received.append(msg.payload) if msg.topic == capture_topic else None
        )
        node.on_subscribe = lambda *_args: subscribed.set()
        node.connect(broker.host, broker.port)
        node.loop_start()
        try:
            node.subscribe(Topics().commands_filter("booth1"), qos=1)
            assert subscribed.wait(10)
            _wait(link.is_connected)
            assert link.connection.v5 is False
            start = CaptureStart(session="s311", start_at=time.time() + 3, duration_s=15)
            link.start_capture("booth1", start)
            _wait(lambda: received)
            assert decode_message(CaptureStart, received[0]) == start
        finally:
            node.loop_stop()
            node.disconnect()
            link.close()


def test_clock_offset_of_a_real_node_over_mqtt(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """Ping → the node's status echo → reading: on one machine (one clock) the offset is 0
    to within the measurement's own bound."""
    from tests.edge.test_node import make_node, make_settings

    node = make_node(make_settings(mosquitto, tmp_path))
    node.start()
    link = MqttBoothLink(
        MqttSettings(host=mosquitto.host, port=mosquitto.port), "booth1", clock_ping_s=0.2
    )
    try:
        _wait(lambda: link.clocks.get("node1") is not None)
        reading = link.clocks.get("node1")
        assert reading is not None and 0 <= reading.delay_s < 2.0
        assert abs(reading.offset_s) <= reading.delay_s / 2 + 0.002
    finally:
        link.close()
        node.stop()
