"""The MQTT client connection, one setup for the edge and the cloud (paho-mqtt 2).

Credentials and TLS come from :class:`~protocol.settings.MqttSettings`. MQTT v5 is
preferred (reason codes on every PUBACK, shared subscriptions, session expiry); a
broker that speaks only 3.1.1 (the demo's embedded amqtt) gets 3.1.1. The version is
found with a bare v5 CONNECT under a throwaway client id, without a will or
properties: a 3.1.1-only broker answers that with "Unsupported protocol version",
while a v5 CONNECT carrying a will or properties can leave it waiting for bytes that
never come.

A :class:`Connection` finds the version, connects, and then keeps reconnecting with
backoff on background threads. An unreachable broker is retried until it answers,
and reported meanwhile (once a minute) with what to check. A caller that cannot work
without the broker (the uploader) calls :meth:`Connection.connect`, which raises that
report as an error; the others (an edge node spools, the API answers 503) call
:meth:`Connection.start` and carry on.

Errors::

    MqttError (ConnectionError)
     ├── BrokerUnreachableError   no connection, or no CONNACK in time (host, port, TLS)
     └── BrokerRefusedError       the broker answered and refused (credentials, client id)
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from common.throttle import Throttle
from protocol.settings import MqttSettings

logger = logging.getLogger(__name__)

Version = Literal["auto", "v5", "v311"]
Hook = Callable[[mqtt.Client], None]

UNSUPPORTED_VERSION = 0x84
# CONNACK reasons that retrying cannot fix: the client's credentials or identity.
_REFUSALS = frozenset({UNSUPPORTED_VERSION, 0x85, 0x86, 0x87, 0x8A, 0x8C})
REPORT_EVERY_S = 60.0


class MqttError(ConnectionError):
    """The broker cannot be used; the message says what to check."""


class BrokerUnreachableError(MqttError):
    """No connection to the broker, or no answer to CONNECT in time."""


class BrokerRefusedError(MqttError):
    """The broker answered CONNECT with a refusal that retrying cannot fix."""


@dataclass(frozen=True)
class Will:
    """The message the broker publishes for a client that vanishes."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True)
class ClientOptions:
    """How one client connects: everything but the broker's address and credentials."""

    client_id: str
    version: Version = "auto"
    env_prefix: str = "DANCEBOOTH_"  # names the settings' variables in error messages
    will: Will | None = None
    manual_ack: bool = False
    session_expiry_s: int = 0  # 0: the broker forgets the session on disconnect
    receive_maximum: int = 0  # 0: the protocol default (65535 in flight)
    max_inflight: int = 1000  # outgoing QoS 1 messages waiting for their PUBACK
    reconnect_min_s: int = 1
    reconnect_max_s: int = 30
    connect_timeout_s: float = 10.0


def unreachable(settings: MqttSettings, options: ClientOptions, detail: str) -> MqttError:
    env = f"{options.env_prefix}MQTT__"
    tls = (
        "; mqtt.tls.ca_file must hold the CA that signed the broker's certificate"
        if settings.tls is not None
        else "; a TLS listener also needs mqtt.tls"
    )
    return BrokerUnreachableError(
        f"cannot reach the MQTT broker at {settings.host}:{settings.port} ({detail}). Start"
        f" the broker, or point mqtt.host / mqtt.port ({env}HOST / {env}PORT) at it{tls}"
    )


def refused(settings: MqttSettings, options: ClientOptions, reason: ReasonCode) -> MqttError:
    where = f"the MQTT broker at {settings.host}:{settings.port}"
    if reason.value == UNSUPPORTED_VERSION:
        return BrokerRefusedError(
            f"{where} does not speak MQTT v5 (it answered: {reason}); let the client find"
            " the version (protocol auto) or choose 3.1.1"
        )
    env = f"{options.env_prefix}MQTT__"
    return BrokerRefusedError(
        f"{where} refused client {options.client_id}: {reason}. Check mqtt.username /"
        f" mqtt.password ({env}USERNAME / {env}PASSWORD) and the broker's passwd and ACL files"
    )


def make_client(settings: MqttSettings, options: ClientOptions, v5: bool) -> mqtt.Client:
    """A configured client (credentials, TLS, will, backoff), not yet connected."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=options.client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        clean_session=None if v5 else options.session_expiry_s == 0,
        manual_ack=options.manual_ack,
    )
    settings.configure_client(client)
    client.max_inflight_messages_set(options.max_inflight)
    client.reconnect_delay_set(options.reconnect_min_s, options.reconnect_max_s)
    if options.will is not None:
        will = options.will
        client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
    return client


def connect_arguments(options: ClientOptions, v5: bool) -> dict[str, Any]:
    """The CONNECT's v5-only arguments: clean start and the session's properties."""
    if not v5:
        return {}
    props = Properties(PacketTypes.CONNECT)
    if options.session_expiry_s:
        props.SessionExpiryInterval = options.session_expiry_s
    if options.receive_maximum:
        props.ReceiveMaximum = options.receive_maximum
    return {"clean_start": options.session_expiry_s == 0, "properties": props}


def speaks_v5(settings: MqttSettings, options: ClientOptions) -> bool:
    """Whether the broker accepts MQTT v5, asked with a bare v5 CONNECT.

    Raises :class:`BrokerUnreachableError` when nothing answers within
    ``options.connect_timeout_s`` and :class:`BrokerRefusedError` when the broker
    speaks v5 but refuses these credentials.
    """
    probe = ClientOptions(f"{options.client_id[:48]}-probe", env_prefix=options.env_prefix)
    client = make_client(settings, probe, v5=True)
    answers: queue.Queue[ReasonCode] = queue.Queue()
    client.on_connect = lambda _c, _u, _f, reason, _p: answers.put(reason)
    try:
        client.connect(settings.host, settings.port, settings.keepalive_s)
    except OSError as exc:  # refused, unknown host, TLS handshake (ssl.SSLError)
        raise unreachable(settings, options, str(exc) or type(exc).__name__) from None
    client.loop_start()
    try:
        reason = answers.get(timeout=options.connect_timeout_s)
    except queue.Empty:
        raise unreachable(
            settings, options, f"no answer to CONNECT within {options.connect_timeout_s:g} s"
        ) from None
    finally:
        client.disconnect()
        client.loop_stop()
    if not reason.is_failure:
        return True
    if reason.value == UNSUPPORTED_VERSION:
        logger.info(
            "MQTT broker %s:%d does not speak v5; using 3.1.1", settings.host, settings.port
        )
        return False
    if reason.value in _REFUSALS:
        raise refused(settings, options, reason)
    raise unreachable(settings, options, f"it answered: {reason}")


class Connection:
    """One client's connection: found version, callbacks, reconnects, reports.

    ``setup`` installs the caller's callbacks (messages, publishes, subscriptions)
    before the first CONNECT, since a persistent session may deliver right after its
    CONNACK. ``on_connect`` runs after every successful CONNACK (subscribe there);
    ``on_disconnect`` after every lost connection. Both run on paho's network thread.
    """

    def __init__(
        self,
        settings: MqttSettings,
        options: ClientOptions,
        *,
        setup: Hook | None = None,
        on_connect: Hook | None = None,
        on_disconnect: Hook | None = None,
    ) -> None:
        self.settings, self.options = settings, options
        self._setup, self._on_connect, self._on_disconnect = setup, on_connect, on_disconnect
        self.connected = threading.Event()
        self.v5: bool | None = None  # known once the broker answered
        self.problem: MqttError | None = None  # why it is not connected, when it is not
        self._client: mqtt.Client | None = None
        self._answered = threading.Event()
        self._refusal: MqttError | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._reports = Throttle(REPORT_EVERY_S)

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    @property
    def client(self) -> mqtt.Client:
        """The paho client; there is one once the broker has answered the version probe."""
        if self._client is None:
            raise self.problem or unreachable(self.settings, self.options, "not connected yet")
        return self._client

    def is_connected(self) -> bool:
        return self.connected.is_set()

    def start(self, wait_s: float = 0.0) -> bool:
        """Connect in the background; wait up to ``wait_s`` for it; return whether it is up.

        Raises :class:`BrokerRefusedError` when the broker refused the first attempt
        within ``wait_s``. Otherwise the connection keeps being retried.
        """
        name = f"mqtt-{self.options.client_id}"[:40]
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._answered.wait(wait_s)
        if self._refusal is not None:
            self.stop()
            raise self._refusal
        return self.connected.is_set()

    def connect(self) -> None:
        """:meth:`start` and wait ``connect_timeout_s``; raise why it did not come up."""
        if self.start(self.options.connect_timeout_s):
            return
        problem = self.problem or unreachable(
            self.settings,
            self.options,
            f"no connection within {self.options.connect_timeout_s:g} s",
        )
        self.stop()
        raise problem

    def stop(self, timeout: float | None = None) -> None:
        """Disconnect cleanly (no will) and stop the threads."""
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout or self.options.connect_timeout_s + 5)
        client = self._client
        if client is not None:
            client.disconnect()
            client.loop_stop()
        self.connected.clear()

    # -- the connecting thread --------------------------------------------------------
    def _run(self) -> None:
        v5 = self._retrying(self._version)
        if v5 is None:
            return
        client = make_client(self.settings, self.options, v5)
        if self._setup is not None:
            self._setup(client)
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_connect_fail = self._connect_failed
        self.v5, self._client = v5, client

        def first_connect() -> bool:
            s = self.settings
            try:  # here, not on paho's thread, so a failure reports its cause
                client.connect(s.host, s.port, s.keepalive_s, **connect_arguments(self.options, v5))
            except OSError as exc:  # refused, unknown host, TLS handshake (ssl.SSLError)
                raise unreachable(s, self.options, str(exc) or type(exc).__name__) from None
            return True

        if self._retrying(first_connect) is not None:
            client.loop_start()  # paho's thread reads the CONNACK and reconnects from here on

    def _version(self) -> bool:
        if self.options.version != "auto":
            return self.options.version == "v5"
        return speaks_v5(self.settings, self.options)

    def _retrying(self, attempt: Callable[[], bool]) -> bool | None:
        """``attempt()`` retried with backoff while the broker is away (None: stopped)."""
        delay = float(self.options.reconnect_min_s)
        while not self._stopping.is_set():
            try:
                return attempt()
            except BrokerRefusedError as exc:
                self._refused(exc)
            except BrokerUnreachableError as exc:
                self._report(exc)
            self._stopping.wait(delay)
            delay = min(2 * delay, float(self.options.reconnect_max_s))
        return None

    # -- paho callbacks (network thread) ----------------------------------------------
    def _connected(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            if reason.value in _REFUSALS:
                self._refused(refused(self.settings, self.options, reason))
            else:
                self._report(unreachable(self.settings, self.options, f"it answered: {reason}"))
            return
        self.problem = None
        logger.info(
            "MQTT client %s connected to %s (MQTT %s)",
            self.options.client_id,
            self.where,
            "v5" if self.v5 else "3.1.1",
        )
        if self._on_connect is not None:
            self._on_connect(client)  # subscribed before anyone is told it is up
        self.connected.set()
        self._answered.set()

    def _disconnected(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was:
            self.problem = unreachable(self.settings, self.options, f"connection lost: {reason}")
        if was and not self._stopping.is_set():
            logger.warning(
                "lost the MQTT broker %s (%s); reconnecting with backoff", self.where, reason
            )
        if self._on_disconnect is not None:
            self._on_disconnect(client)

    def _connect_failed(self, _client: mqtt.Client, _u: Any) -> None:
        self._report(unreachable(self.settings, self.options, "the connection failed"))

    # -- reports ----------------------------------------------------------------------
    def _refused(self, exc: MqttError) -> None:
        if not self._answered.is_set():
            self._refusal = exc  # start() raises it
            self._answered.set()
        self._report(exc, logging.ERROR)

    def _report(self, exc: MqttError, level: int = logging.WARNING) -> None:
        self.problem = exc
        if self._stopping.is_set():
            return
        held = self._reports.allow()
        if held is not None:
            again = f" ({held} more failed attempts)" if held else ""
            logger.log(level, "%s; retrying%s", exc, again)
