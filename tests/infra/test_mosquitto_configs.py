"""The shipped broker configs load in a real Mosquitto and do what they promise.

compose.conf (docker-compose.yml) and production.conf (a host install) are started with
only their host paths and ports moved into a temp dir: passwd + ACL from
``write_broker_config``, a TLS certificate from a throwaway CA. The cloud account gets
in on the plain listener, a node over TLS; nobody gets in without a password.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion

from cloud.mqtt.accounts import BrokerAccounts, node_username, write_broker_config
from tests.services import free_port, missing, mosquitto_binary, wait_for_port

MOSQUITTO = Path(__file__).resolve().parents[2] / "infra" / "mosquitto"
PATH_KEYS = ("password_file", "acl_file", "certfile", "keyfile", "cafile")


def write_certificates(out: Path) -> None:
    """ca.crt, server.crt and server.key for 127.0.0.1 (the names compose.conf uses)."""
    now = dt.datetime.now(dt.UTC)

    def cert(subject: str, key: Any, issuer: str, issuer_key: Any, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = cert("dancebooth test CA", ca_key, "dancebooth test CA", ca_key, ca=True)
    server = cert("127.0.0.1", key, "dancebooth test CA", ca_key, ca=False)
    pem = serialization.Encoding.PEM
    (out / "ca.crt").write_bytes(ca.public_bytes(pem))
    (out / "server.crt").write_bytes(server.public_bytes(pem))
    (out / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def relocate(conf: str, root: Path, plain: int, tls: int) -> str:
    """The config with its host paths under ``root`` and its listeners on free ports."""
    lines = []
    for line in conf.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] in PATH_KEYS:
            sub = "certs" if words[0] in ("certfile", "keyfile", "cafile") else "broker"
            line = f"{words[0]} {root / sub / Path(words[1]).name}"
        elif words[:1] == ["persistence_location"]:
            line = f"persistence_location {root / 'data'}/"
        elif words[:1] == ["log_dest"]:
            line = f"log_dest file {root / 'mosquitto.log'}"
        elif words[:2] == ["listener", "1883"]:
            line = f"listener {plain} 127.0.0.1"
        elif words[:2] == ["listener", "8883"]:
            line = f"listener {tls} 127.0.0.1"
        lines.append(line)
    return "\n".join(lines) + "\n"


@dataclass
class Broker:
    plain: int
    tls: int
    ca: Path
    passwords: dict[str, str]
    log: Path


@pytest.fixture(params=["compose.conf", "production.conf"])
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    binary = mosquitto_binary()
    if binary is None:
        missing("mosquitto", "apt-get install mosquitto")
    assert binary is not None
    # Not under pytest's 0700 tmp dir: Mosquitto started as root reads its files after
    # dropping to its own user.
    root = Path(tempfile.mkdtemp(prefix="dancebooth-conf-"))
    try:
        for sub in ("broker", "certs", "data"):
            (root / sub).mkdir()
        root.chmod(0o755)
        accounts = BrokerAccounts("booth1", ("node1",))
        passwords = write_broker_config(accounts, root / "broker", {"cloud": "cloud-secret"})
        write_certificates(root / "certs")
        for path in [*root.rglob("*")]:
            path.chmod(0o777 if path.is_dir() else 0o644)
        plain, tls = free_port(), free_port()
        text = relocate((MOSQUITTO / request.param).read_text(), root, plain, tls)
        directives = [ln for ln in text.splitlines() if not ln.startswith("#")]
        assert not [ln for ln in directives if re.search(r"\s/(etc|var|mosquitto)/", ln)]
        config = root / "mosquitto.conf"
        config.write_text(text)
        proc = subprocess.Popen(
            [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            try:
                wait_for_port(plain)
                wait_for_port(tls)
            except TimeoutError:
                proc.kill()
                _, err = proc.communicate()
                log = (
                    (root / "mosquitto.log").read_text(errors="replace")
                    if (root / "mosquitto.log").exists()
                    else ""
                )
                pytest.fail(f"{request.param} did not load: {err.decode()} {log}")
            yield Broker(plain, tls, root / "certs" / "ca.crt", passwords, root / "mosquitto.log")
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        shutil.rmtree(root, ignore_errors=True)


class Client:
    def __init__(
        self, port: int, user: str | None, password: str | None, ca: Path | None = None
    ) -> None:
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if user is not None:
            self.c.username_pw_set(user, password)
        if ca is not None:
            self.c.tls_set(ca_certs=str(ca))
        self.connack: Any = None
        self.received: list[tuple[str, bytes]] = []
        self.connected = threading.Event()
        self.c.on_connect = self._on_connect
        self.c.on_message = lambda _c, _u, m: self.received.append((m.topic, m.payload))
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert self.connected.wait(10), "no CONNACK"

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connack = reason
        self.connected.set()

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_cloud_on_plain_and_node_over_tls(broker: Broker) -> None:
    cloud = Client(broker.plain, "cloud", "cloud-secret")
    assert not cloud.connack.is_failure
    cloud.c.subscribe("dancebooth/#", qos=1)
    time.sleep(0.3)
    user = node_username("booth1", "node1")
    node = Client(broker.tls, user, broker.passwords[user], ca=broker.ca)
    assert not node.connack.is_failure
    node.c.publish("dancebooth/booth1/node/node1/status", b"online", qos=1).wait_for_publish(5)
    deadline = time.monotonic() + 5
    while not cloud.received and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cloud.received == [("dancebooth/booth1/node/node1/status", b"online")]
    for c in (cloud, node):
        c.close()


@pytest.mark.parametrize("listener", ["plain", "tls"])
def test_no_entry_without_the_password(broker: Broker, listener: str) -> None:
    port, ca = (broker.plain, None) if listener == "plain" else (broker.tls, broker.ca)
    for user, password in [(None, None), ("cloud", "wrong")]:
        client = Client(port, user, password, ca=ca)
        assert client.connack.is_failure
        client.close()


def test_the_size_limit_is_in_force(broker: Broker) -> None:
    """message_size_limit: a payload above it is dropped, one below it arrives."""
    cloud = Client(broker.plain, "cloud", "cloud-secret")
    cloud.c.subscribe("dancebooth/#", qos=1)
    time.sleep(0.3)
    limit = int(
        re.findall(r"message_size_limit (\d+)", (MOSQUITTO / "compose.conf").read_text())[0]
    )
    user = node_username("booth1", "node1")
    node = Client(broker.tls, user, broker.passwords[user], ca=broker.ca)
    topic = "dancebooth/booth1/node/node1/frames/s1"
    # The one below the limit first: Mosquitto may drop a v5 client's connection after
    # an oversize packet, and nothing may be published on a dropped connection.
    node.c.publish(topic, b"y" * (limit - 100), qos=1).wait_for_publish(5)
    node.c.publish(topic, b"x" * (limit + 1), qos=0)
    deadline = time.monotonic() + 5
    while not cloud.received and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)  # time for the oversize one to arrive, were it let through
    assert [len(p) for _, p in cloud.received] == [limit - 100]
    for c in (cloud, node):
        c.close()
