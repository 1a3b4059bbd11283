"""The rehearsal's processes: each part of the booth as its own OS process, supervised.

A :class:`Service` is one command line with its environment and log file. The
:class:`Supervisor` restarts a service that died after its ``restart_after_s`` (as
systemd's ``Restart=always`` or a Kubernetes Deployment would), so a fault that kills
one shows what the booth does until the replacement is up, and after.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)


class RehearsalError(RuntimeError):
    """The rehearsal cannot start or go on; the message says what to do."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float, what: str, alive: Service | None = None) -> None:
    """Block until something listens on 127.0.0.1:``port`` (or ``alive`` exits)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if alive is not None and not alive.running():
                raise RehearsalError(f"{what} exited at start: see {alive.log}") from None
            time.sleep(0.1)
    raise RehearsalError(f"{what} does not listen on 127.0.0.1:{port} after {timeout_s:g} s")


def dancebooth(*args: str) -> list[str]:
    """The ``dancebooth`` command of this interpreter's install."""
    return [sys.executable, "-m", "dancebooth", *args]


@dataclass
class Service:
    """One supervised process: ``argv`` started with ``env`` on top of ours, output to ``log``."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    restart_after_s: float | None = 2.0  # None: a death is final (and reported)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    deaths: list[tuple[float, int]] = field(default_factory=list)  # (time, exit code)
    killed: bool = False  # the last death was a fault's doing

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RehearsalError(f"{self.name} is not running")
        return self.process.pid

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            out.write(f"--- start {self.starts + 1}: {' '.join(self.argv)}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                start_new_session=True,  # a Ctrl-C at the console reaches us, not the parts
            )
        self.starts += 1

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> int:
        """SIGKILL, as a crash or the OOM killer would; the supervisor restarts it."""
        pid = self.pid
        self.killed = True
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM to its process group, SIGKILL after ``grace_s``."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            logger.info("%s did not stop in %g s: killing it", self.name, grace_s)
            self._signal_group(signal.SIGKILL)
            proc.wait()

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def children(self) -> list[int]:
        """The pids this process started (uvicorn's worker processes)."""
        import psutil

        try:
            kids = psutil.Process(self.pid).children()
        except psutil.NoSuchProcess:
            return []
        return [k.pid for k in kids if "resource_tracker" not in " ".join(k.cmdline())]


class Supervisor:
    """Starts services, restarts the ones that die, stops them all in reverse order."""

    def __init__(self) -> None:
        self.services: dict[str, Service] = {}
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._thread.start()

    def start(self, service: Service) -> Service:
        with self._lock:
            if service.name in self.services:
                raise RehearsalError(f"two services named {service.name}")
            self.services[service.name] = service
            service.start()
        logger.info("started %s (pid %d)", service.name, service.pid)
        return service

    def restart(self, name: str) -> None:
        """Stop ``name`` (SIGTERM) and start it again, as ``systemctl restart`` does."""
        with self._lock:
            svc = self.services[name]
            svc.stop()
            svc.start()

    def __getitem__(self, name: str) -> Service:
        return self.services[name]

    def _watch(self) -> None:
        due: dict[str, float] = {}
        while not self._stopping.wait(0.25):
            with self._lock:
                for name, svc in self.services.items():
                    self._check(name, svc, due)

    def _check(self, name: str, svc: Service, due: dict[str, float]) -> None:
        if svc.process is None or svc.running():
            return
        if name not in due:
            code = svc.process.returncode
            svc.deaths.append((time.time(), code))
            level = logging.INFO if svc.killed else logging.WARNING  # a crash nobody caused
            logger.log(level, "%s exited (code %s)", name, code)
            svc.killed = False
            if svc.restart_after_s is None:
                svc.process = None
                return
            due[name] = time.monotonic() + svc.restart_after_s
        if time.monotonic() >= due[name]:
            del due[name]
            svc.start()
            logger.info("restarted %s (pid %d)", name, svc.pid)

    def stop_all(self, grace_s: float = 10.0) -> None:
        """SIGTERM to every service at once (clients first), SIGKILL to what is left
        after ``grace_s``."""
        self._stopping.set()
        self._thread.join(5)
        services = list(reversed(self.services.values()))
        for svc in services:
            if svc.running():
                svc._signal_group(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for svc in services:
            if svc.process is not None and svc.running():
                svc.stop(max(deadline - time.monotonic(), 0.1))
