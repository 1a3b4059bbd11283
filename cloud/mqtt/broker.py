"""The embedded MQTT broker (amqtt) for the demo: in-process, on a free port.

Production runs Mosquitto with ``infra/mosquitto/`` (credentials, ACL, TLS); this one
is anonymous and bound to localhost, which is what a single-laptop demo needs. amqtt
speaks MQTT 3.1.1 only, so clients connect with ``protocol: auto`` (or ``v311``) and
the uploader falls back to a plain subscription.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any

logger = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The embedded broker could not start or stop."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class EmbeddedBroker:
    """An amqtt broker running its own event loop in a background thread.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Any = None

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        from amqtt.broker import Broker

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="amqtt-broker", daemon=True
        )
        self._thread.start()

        async def _start() -> Any:
            broker = Broker(self._config(), loop=self._loop)
            await broker.start()
            return broker

        try:
            future = asyncio.run_coroutine_threadsafe(_start(), self._loop)
            self._broker = future.result(timeout)
        except Exception as exc:
            self._stop_loop()
            raise BrokerError(
                f"embedded broker failed to start on port {self.port}: {exc}"
            ) from exc
        logger.info("embedded MQTT broker on %s:%d", self.host, self.port)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is None:
            return
        if self._broker is not None:
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                future.result(timeout)
            except Exception:
                logger.exception("embedded broker did not shut down cleanly")
            self._broker = None
        self._stop_loop()

    def _stop_loop(self) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        self._loop.close()
        self._loop = None
        self._thread = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
