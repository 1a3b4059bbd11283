"""A private Mosquitto process with the project's config, for benchmarks and the demo.

(The tests have their own fixture in ``tests/services.py``; this one has no pytest.)
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cloud.mqtt.broker import free_port

logger = logging.getLogger(__name__)

PROJECT_CONF = Path(__file__).resolve().parents[2] / "infra" / "mosquitto" / "mosquitto.conf"


class MosquittoNotFoundError(RuntimeError):
    """No mosquitto binary here."""


@dataclass(frozen=True)
class MosquittoProcess:
    host: str
    port: int
    workdir: Path


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None
    )
    if found is None:
        raise MosquittoNotFoundError("mosquitto is not installed: apt-get install mosquitto")
    return found


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Block until something listens on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def stop_process(proc: subprocess.Popen[bytes] | subprocess.Popen[str], grace: float = 5.0) -> None:
    """Terminate ``proc``, and kill it if it has not exited ``grace`` seconds later."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def run_private_mosquitto(conf: Path = PROJECT_CONF, extra: str = "") -> Iterator[MosquittoProcess]:
    """Mosquitto with ``conf``, an anonymous localhost listener on a free port, and ``extra``."""
    binary = mosquitto_binary()
    if not conf.is_file():
        raise MosquittoNotFoundError(f"{conf} is missing: run from a source checkout of dancebooth")
    workdir = Path(tempfile.mkdtemp(prefix="dancebooth-mosquitto-"))
    workdir.chmod(0o777)  # started as root, Mosquitto writes persistence as its own user
    port = free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(
        conf.read_text() + f"\npersistence_location {workdir}/\nlistener {port} 127.0.0.1\n"
        "allow_anonymous true\n" + extra
    )
    with (workdir / "mosquitto.log").open("ab") as log:
        proc = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=log)
    try:
        wait_for_port(port, 10)
        yield MosquittoProcess("127.0.0.1", port, workdir)
    finally:
        stop_process(proc)
        shutil.rmtree(workdir, ignore_errors=True)
