"""The mirror's web server on a thread of its own (uvicorn), so the command, the demo and
the benchmark run it the same way beside the MQTT and inference threads."""

from __future__ import annotations

import threading
import time

import uvicorn

from cloud.mirror.app import create_mirror_app
from cloud.mirror.service import MirrorService


class MirrorServerError(RuntimeError):
    """The web server did not come up (the port is taken, the address is wrong)."""


class MirrorServer:
    """``/mirror`` and its streams for one :class:`MirrorService`; :meth:`start`, :meth:`stop`."""

    def __init__(self, service: MirrorService, host: str = "127.0.0.1", port: int = 0) -> None:
        self.service, self.host = service, host
        app = create_mirror_app(service.hub, service.stats)
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="mirror-http", daemon=True)
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/mirror"

    def start(self, timeout_s: float = 10.0) -> str:
        """Serve; return the page's URL once the server listens."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise MirrorServerError(
                    f"the mirror's web server did not start on {self.host}:{self.port}: is the"
                    " port taken? Pick another with --port (mirror.port)"
                )
            time.sleep(0.02)
        sockets = self._server.servers[0].sockets
        self.port = int(sockets[0].getsockname()[1])
        return self.url

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(5)
