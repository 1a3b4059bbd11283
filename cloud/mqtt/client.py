"""Connecting the cloud's paho-mqtt 2 clients: credentials, TLS, persistent sessions,
and MQTT v5 with a fallback to 3.1.1 for brokers without it (amqtt)."""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from protocol.settings import MqttSettings

logger = logging.getLogger(__name__)

Protocol = Literal["auto", "v5", "v311"]


class MqttConnectError(ConnectionError):
    """The broker could not be reached or refused us; the message says what to check."""


@dataclass(frozen=True)
class ClientOptions:
    client_id: str
    manual_ack: bool = False
    session_expiry_s: int = 0  # 0: the broker forgets us on disconnect
    receive_maximum: int = 0  # 0: the protocol default (65535 in flight)


def make_client(settings: MqttSettings, options: ClientOptions, v5: bool) -> mqtt.Client:
    """A configured, not yet connected client."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=options.client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        clean_session=None if v5 else options.session_expiry_s == 0,
        manual_ack=options.manual_ack,
    )
    settings.configure_client(client)
    # Outgoing QoS 1 messages waiting for PUBACK: enough for resend bursts.
    client.max_inflight_messages_set(1000)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


def connect_properties(options: ClientOptions) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    if options.session_expiry_s:
        props.SessionExpiryInterval = options.session_expiry_s
    if options.receive_maximum:
        props.ReceiveMaximum = options.receive_maximum
    return props


def connect(
    settings: MqttSettings,
    options: ClientOptions,
    protocol: Protocol = "auto",
    timeout: float = 10.0,
    setup: Callable[[mqtt.Client], None] | None = None,
) -> tuple[mqtt.Client, bool]:
    """Connect and start the network loop; return the client and whether it speaks v5.

    With ``auto``, a broker that refuses v5 is retried with 3.1.1. ``setup`` installs
    callbacks before connecting: a persistent session may deliver right after CONNACK.
    """
    v5 = protocol == "v5" or (protocol == "auto" and _speaks_v5(settings, options, timeout))
    client = make_client(settings, options, v5)
    if setup is not None:
        setup(client)
    outcome = _try_connect(client, settings, options, v5, timeout)
    if outcome is not None:
        raise MqttConnectError(
            f"cannot connect to MQTT broker {settings.host}:{settings.port}: {outcome} "
            "(check mqtt.host/port, credentials and TLS settings)"
        )
    return client, v5


def _speaks_v5(settings: MqttSettings, options: ClientOptions, timeout: float) -> bool:
    """Probe with a bare v5 CONNECT under a throwaway id (the real id's session is kept).

    A probe is needed because a 3.1.1-only broker may not answer a v5 CONNECT that
    carries properties at all (amqtt waits for bytes that never come).
    """
    probe = ClientOptions(client_id=f"{options.client_id[:50]}-probe")
    client = make_client(settings, probe, v5=True)
    outcome = _try_connect(client, settings, probe, True, timeout)
    if outcome is None:
        client.disconnect()
        client.loop_stop()
        return True
    if outcome == "Unsupported protocol version":
        logger.info("broker refuses MQTT v5; using 3.1.1")
        return False
    raise MqttConnectError(
        f"cannot connect to MQTT broker {settings.host}:{settings.port}: {outcome} "
        "(check mqtt.host/port, credentials and TLS settings)"
    )


def _try_connect(
    client: mqtt.Client, settings: MqttSettings, options: ClientOptions, v5: bool, timeout: float
) -> str | None:
    done = threading.Event()
    result: list[str | None] = []

    def on_connect(_c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not done.is_set():
            result.append(str(reason) if reason.is_failure else None)
            done.set()

    client.on_connect = on_connect
    kwargs: dict[str, Any] = {"keepalive": settings.keepalive_s}
    if v5:
        kwargs["clean_start"] = options.session_expiry_s == 0
        kwargs["properties"] = connect_properties(options)
    try:
        client.connect(settings.host, settings.port, **kwargs)
    except (OSError, ssl.SSLError) as exc:
        return str(exc)
    client.loop_start()
    if not done.wait(timeout):
        client.loop_stop()
        return f"no CONNACK within {timeout}s"
    if result[0] is not None:
        client.loop_stop()
        client.disconnect()
    return result[0]
