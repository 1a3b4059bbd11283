"""The node's paho-mqtt 2 client: credentials, TLS, and which MQTT version the broker speaks.

MQTT v5 is preferred (reason codes on every PUBACK); a broker that only speaks
3.1.1 (the demo's embedded amqtt) gets 3.1.1. The version is found with a bare v5
CONNECT under a throwaway client id and without a will: a 3.1.1-only broker answers
that with "Unsupported protocol version", while a v5 CONNECT carrying a will can
leave it waiting for bytes that never come.
"""

from __future__ import annotations

import logging
import ssl
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocol.settings import MqttSettings

logger = logging.getLogger(__name__)

UNSUPPORTED_VERSION = 0x84


def make_client(settings: MqttSettings, client_id: str, v5: bool) -> mqtt.Client:
    """A configured client (credentials, TLS), not yet connected."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
    )
    settings.configure_client(client)
    return client


def speaks_v5(settings: MqttSettings, client_id: str, timeout: float) -> bool | None:
    """True/False once the broker answered a bare v5 CONNECT; None if it did not answer
    (down or unreachable: the caller assumes v5 and reconnects later)."""
    client = make_client(settings, f"{client_id[:48]}-probe", v5=True)
    done = threading.Event()
    answer: list[Any] = []

    def on_connect(c: mqtt.Client, u: object, f: object, reason: Any, p: object) -> None:
        answer.append(reason)
        done.set()

    client.on_connect = on_connect
    try:
        client.connect(settings.host, settings.port, settings.keepalive_s)
    except (OSError, ssl.SSLError) as exc:
        logger.debug("version probe could not connect: %s", exc)
        return None
    client.loop_start()
    try:
        if not done.wait(timeout):
            return None
        reason = answer[0]
        if reason.is_failure and reason.value == UNSUPPORTED_VERSION:
            logger.info(
                "MQTT broker %s:%d does not speak v5; using 3.1.1", settings.host, settings.port
            )
            return False
        # Success, or a refusal the real connection will report (credentials).
        return True
    finally:
        client.disconnect()
        client.loop_stop()
