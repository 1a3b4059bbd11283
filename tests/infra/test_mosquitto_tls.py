"""The TLS listener as production.conf sets it up: the uploader connects with the CA file
from its settings; a client that does not trust the CA is refused."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.db.states import SessionState
from common.mqtt import BrokerUnreachableError, ClientOptions, Connection
from protocol.settings import MqttSettings, TlsSettings
from tests.cloud.test_uploader import Running, cloud_settings
from tests.cloud.traffic import Publisher, manifest_for, packet, wait_for
from tests.services import Mosquitto, free_port, missing, run_mosquitto


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(out: Path) -> None:
    """A private CA and a server certificate for 127.0.0.1 / localhost."""
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=dancebooth test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        cwd=out,
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        cwd=out,
    )
    (out / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
        cwd=out,
    )
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=someone else",
        "-keyout",
        "other.key",
        "-out",
        "other-ca.crt",
        cwd=out,
    )
    for f in out.iterdir():
        f.chmod(0o644)  # Mosquitto reads them after dropping root


@pytest.fixture(scope="module")
def tls_broker() -> Iterator[tuple[Mosquitto, int, Path]]:
    if shutil.which("openssl") is None:
        missing("openssl", "apt-get install openssl")
    out = Path(tempfile.mkdtemp(prefix="dancebooth-tls-"))
    out.chmod(0o755)
    make_certificates(out)
    tls_port = free_port()
    extra = (
        f"listener {tls_port} 127.0.0.1\ncertfile {out / 'server.crt'}\n"
        f"keyfile {out / 'server.key'}\ncafile {out / 'ca.crt'}\ntls_version tlsv1.2\n"
    )
    try:
        with run_mosquitto(extra) as broker:
            yield broker, tls_port, out
    finally:
        shutil.rmtree(out, ignore_errors=True)


def test_uploader_over_tls(tls_broker: tuple[Mosquitto, int, Path], tmp_path: Path) -> None:
    broker, tls_port, certs = tls_broker
    settings = cloud_settings(tmp_path, tls_port)
    settings.mqtt.tls = TlsSettings(ca_file=certs / "ca.crt")
    r = Running(settings)
    with r.uploader:
        pub = Publisher(broker.host, broker.port)  # a node on the plain listener, same broker
        pub.frames(packet(s) for s in range(10))
        pub.manifest(manifest_for("s1", "node1", 10))
        pub.flush()
        wait_for(lambda: r.state() is SessionState.QUEUED, what="session over TLS")
        pub.close()
    assert r.frames() == 10
    r.engine.dispose()


def test_a_client_that_does_not_trust_the_ca_is_refused(
    tls_broker: tuple[Mosquitto, int, Path],
) -> None:
    _, tls_port, certs = tls_broker
    untrusting = MqttSettings(port=tls_port, tls=TlsSettings(ca_file=certs / "other-ca.crt"))
    options = ClientOptions("probe-client", version="v5", connect_timeout_s=3)
    with pytest.raises(BrokerUnreachableError, match="certificate verify failed") as caught:
        Connection(untrusting, options).connect()
    assert "mqtt.tls.ca_file" in str(caught.value)
    plain = MqttSettings(port=tls_port)  # no TLS at all against a TLS listener
    with pytest.raises(BrokerUnreachableError, match=r"a TLS listener also needs mqtt\.tls"):
        Connection(plain, ClientOptions("plain-client", connect_timeout_s=3)).connect()
