"""Real services the tests start or reach: a private Mosquitto per test session, PostgreSQL.

A service that cannot exist on this machine makes its tests skip with the reason
(and the install command) outside CI; under CI=true it fails them instead, because
.ci/run installs everything the tests need.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from cloud.mqtt.broker import free_port
from cloud.mqtt.mosquitto import MosquittoNotFoundError, stop_process, wait_for_port
from cloud.mqtt.mosquitto import mosquitto_binary as cloud_mosquitto_binary

REPO = Path(__file__).resolve().parent.parent
MOSQUITTO_CONF = REPO / "infra" / "mosquitto" / "mosquitto.conf"


def missing(what: str, how: str) -> None:
    """Skip (or, in CI, fail) a test whose service is absent."""
    msg = f"{what} is not available here ({how})"
    if os.environ.get("CI") == "true":
        pytest.fail(msg + "; .ci/run should have installed it")
    pytest.skip(msg)


def mosquitto_binary() -> str | None:
    try:
        return cloud_mosquitto_binary()
    except MosquittoNotFoundError:
        return None


@dataclass
class Mosquitto:
    """A private Mosquitto started with the project's config on a free port."""

    port: int
    workdir: Path
    process: subprocess.Popen[bytes]
    config: Path

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def start(self) -> None:
        """(Re)start on the same port, config and persistence file."""
        self.stop()
        self.process = _spawn(self.config, self.workdir)
        wait_for_port(self.port)


def _spawn(config: Path, workdir: Path) -> subprocess.Popen[bytes]:
    binary = mosquitto_binary()
    assert binary is not None
    log = open(workdir / "mosquitto.log", "ab")
    return subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=log)


@contextmanager
def run_mosquitto(extra_conf: str = "", anonymous: bool = True) -> Iterator[Mosquitto]:
    """Start Mosquitto with infra/mosquitto/mosquitto.conf plus ``extra_conf``."""
    if mosquitto_binary() is None:
        missing("mosquitto", "apt-get install mosquitto")
    workdir = Path(tempfile.mkdtemp(prefix="dancebooth-mosquitto-"))
    port = free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(
        MOSQUITTO_CONF.read_text()
        + f"\npersistence_location {workdir}/\nlistener {port} 127.0.0.1\n"
        + ("allow_anonymous true\n" if anonymous else "")
        + extra_conf
    )
    broker = Mosquitto(port, workdir, _spawn(config, workdir), config)
    try:
        wait_for_port(port)
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)


POSTGRES_URL = os.environ.get(
    "DANCEBOOTH_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def postgres_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class S3Endpoint:
    """A moto S3 server over real HTTP on a free port."""

    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def run_moto_server() -> Iterator[S3Endpoint]:
    """Start ``moto_server`` (from moto[server]) as a subprocess: a real HTTP S3 endpoint."""
    binary = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    if not os.path.exists(binary):
        missing("moto_server", "pip install 'moto[server]'")
    port = free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    try:
        wait_for_port(port, timeout=30)
        yield S3Endpoint(f"http://127.0.0.1:{port}", proc)
    finally:
        stop_process(proc)
        log.close()
