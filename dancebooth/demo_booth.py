"""The demo booth: every embedded part of the booth started together in one process.

Composition only: settings built in code, then the broker, database, store, uploader,
API + UI, edge nodes and one worker, each the real part behind its real interface.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloud.booth_models import booth_checkpoint as shipped_checkpoint
from cloud.settings import CloudSettings
from edge.settings import EdgeSettings

logger = logging.getLogger(__name__)

OPERATOR = "operator"
NODES = ("cam-left", "cam-right")
MARKER = ".dancebooth-demo"
# Each run starts from nothing in these (the demo directory may hold other things).
FRESH = (
    "dancebooth.db",
    "dancebooth.db-wal",
    "dancebooth.db-shm",
    "store",
    "outbox",
    "spool",
    "work",
    "deliveries.json",
    "demo.log",
)


class DemoError(RuntimeError):
    """The demo cannot start or a stage failed; the message says what to do."""


@dataclass(frozen=True)
class DemoOptions:
    directory: Path = Path("var/demo")
    port: int = 8000
    visitors: int = 1
    budget_s: float = 120.0
    resolution: int = 128
    dance: str | None = None
    video: Path | None = None
    capture_s: float = 15.0
    countdown_s: float = 3.0
    # A booth camera's VGA: the rendition is delivered at this size (>= 480 rows), the
    # generator draws its square crop of the dancer.
    capture_width: int = 640
    capture_height: int = 480


def booth_checkpoint(resolution: int) -> Path:
    path = shipped_checkpoint(resolution)
    if not path.is_file():
        raise DemoError(
            f"no booth checkpoint for {resolution} px ({path} is missing): build one with "
            f"'dancebooth model train-base --resolution {resolution} --out {path}', "
            "or run the demo at --resolution 128 (the committed checkpoint)"
        )
    return path


def port_or_free(port: int, host: str = "127.0.0.1") -> int:
    """``port`` if nothing listens there, else (or for 0) a free one."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            s.bind((host, 0))
        return int(s.getsockname()[1])


def cloud_settings(opts: DemoOptions, api_port: int, mqtt_port: int) -> CloudSettings:
    d = opts.directory.resolve()
    return CloudSettings(
        database={"url": f"sqlite:///{d / 'dancebooth.db'}"},
        storage={"type": "local", "root": d / "store"},
        mqtt={"host": "127.0.0.1", "port": mqtt_port},
        mail={"type": "outbox", "directory": d / "outbox"},
        api={
            "host": "127.0.0.1",
            "port": api_port,
            "public_url": f"http://127.0.0.1:{api_port}",
            "secret_key": secrets.token_urlsafe(32),
            "countdown_s": opts.countdown_s,
            # Its synthetic visitors dance free-style: their capture lasts --capture, not
            # the dance they never see.
            "capture_mode": "free",
            "capture_s": opts.capture_s,
        },
        training={
            "device": "cpu",
            "resolution": opts.resolution,
            "budget_s": opts.budget_s,
            "booth_checkpoint": booth_checkpoint(opts.resolution),
        },
        # The demo's synthetic visitors dance free-style, not along with a stage screen:
        # capture QA scores them and the dashboard shows the verdict, but never holds them.
        qa={"auto_accept": True},
        worker={
            "work_dir": d / "work",
            "dance": _dance(opts.dance),
            "poll_s": 0.5,
            "heartbeat_s": 2.0,
        },
        uploader={"client_id": "demo-uploader", "resend_after_s": 1.0},
    )


def _dance(name: str | None) -> str:
    """The reference dance to render (checked now, not after the fine-tune)."""
    from common.reference import ReferenceDanceError, list_references, load_reference

    if name is not None:
        try:
            load_reference(name)
        except (ReferenceDanceError, OSError) as exc:
            raise DemoError(f"--dance {name}: {exc}") from None
        return name
    dances = list_references()
    if not dances:
        raise DemoError("no reference dances in reference_videos/: 'dancebooth reference generate'")
    return dances[0].name


def edge_settings(opts: DemoOptions, node: str, index: int, mqtt_port: int) -> EdgeSettings:
    source: dict[str, Any] = {"type": "synthetic", "seed": 0, "realtime": True}
    pose: dict[str, Any] = {"type": "replay", "noise": True, "seed": 1000 + index}
    capture = {"width": opts.capture_width, "height": opts.capture_height, "fps": 30.0}
    if opts.video is not None:
        source = {"type": "video", "path": opts.video.resolve(), "realtime": True}
        pose = {"type": "blazepose", "max_people": 1}
        capture = {"width": 640, "height": 480, "fps": 30.0}
    return EdgeSettings(
        node={"booth": "booth1", "node": node},
        mqtt={"host": "127.0.0.1", "port": mqtt_port, "client_id": f"demo-{node}"},
        source=source,
        pose=pose,
        capture=capture,
        spool={"path": opts.directory.resolve() / "spool" / node},
        publisher={"stats_interval_s": 1.0, "reconnect_max_s": 2},
        # The first node feeds the live mirror; the other's live stream would go unwatched.
        live={"enabled": index == 0},
    )


@dataclass
class VisitorRoster:
    """Which synthetic visitor stands in front of the cameras now (set before a capture),
    so every node films the same person and each session gets its own."""

    seed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def source_factory(self, settings: EdgeSettings) -> Any:
        from edge.settings import SyntheticSource
        from edge.sources import create_source

        def make(fps: float, duration_s: float | None) -> Any:
            with self.lock:
                source = SyntheticSource(seed=self.seed, realtime=True)
            c = settings.capture
            return create_source(source, c.width, c.height, fps, duration_s)

        return make


class DemoBooth:
    """Starts the parts in dependency order; :meth:`stop` stops them in reverse."""

    def __init__(self, opts: DemoOptions) -> None:
        self.opts = opts
        self.roster = VisitorRoster()
        self.password = secrets.token_urlsafe(12)
        self._stops: list[tuple[str, Any]] = []
        self.settings: CloudSettings | None = None
        self.nodes: list[Any] = []

    @property
    def url(self) -> str:
        assert self.settings is not None
        return self.settings.api.public_url

    def prepare(self) -> None:
        """A fresh demo directory: only the demo's own files go, and only from a directory
        that is new, empty or marked as the demo's (never a real booth's ``var/``)."""
        d = self.opts.directory
        d.mkdir(parents=True, exist_ok=True)
        marker = d / MARKER
        if not marker.exists() and any(d.iterdir()):
            raise DemoError(
                f"{d} is not empty and was not made by 'dancebooth demo': pick another --dir "
                f"(the demo starts each run by deleting its database, store and outbox there)"
            )
        marker.write_text("made by 'dancebooth demo'; each run resets this directory\n")
        for name in FRESH:
            path = d / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()

    def start_broker(self) -> int:
        from cloud.mqtt.broker import BrokerError, EmbeddedBroker

        try:
            broker = EmbeddedBroker("127.0.0.1", 0).start()
        except BrokerError as exc:
            raise DemoError(str(exc)) from None
        self._stops.append(("broker", broker.stop))
        return broker.port

    def start_cloud(self, mqtt_port: int) -> None:
        """Database (migrated), store, operator account, uploader, API + UI, worker."""
        from cloud.api.security import add_operator
        from cloud.db.engine import make_engine, session_factory, transaction, upgrade_database
        from cloud.ingest.uploader import Uploader
        from cloud.storage import create_storage
        from common.mqtt import MqttError

        api_port = port_or_free(self.opts.port)
        self.settings = settings = cloud_settings(self.opts, api_port, mqtt_port)
        upgrade_database(settings.database.url)
        self.engine = engine = make_engine(settings.database.url)
        self._stops.append(("database", engine.dispose))
        self.factory = session_factory(engine)
        with transaction(self.factory) as db:
            add_operator(db, OPERATOR, self.password)
        self.storage = storage = create_storage(settings.storage)
        self._stops.append(("store", storage.close))
        uploader = Uploader(settings, storage, engine)
        try:
            uploader.start()
        except MqttError as exc:
            raise DemoError(f"the uploader could not reach the embedded broker: {exc}") from None
        self._stops.append(("uploader", uploader.stop))
        self._start_api(settings)
        self._start_worker(settings)

    def _start_api(self, settings: CloudSettings) -> None:
        import uvicorn

        from cloud.api.app import create_app
        from cloud.api.link import MqttBoothLink

        link = MqttBoothLink(settings.mqtt, settings.booth)  # a fresh client id each run
        app = create_app(settings, engine=self.engine, link=link, storage=self.storage)
        config = uvicorn.Config(
            app,
            host=settings.api.host,
            port=settings.api.port,
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="demo-api", daemon=True)
        thread.start()

        def stop() -> None:
            server.should_exit = True
            thread.join(10)

        self._stops.append(("api", stop))
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise DemoError(f"the API did not start on port {settings.api.port}")
            time.sleep(0.05)
        while not link.is_connected():  # else the first capture command gets a 503
            if time.monotonic() > deadline:
                raise DemoError("the API could not connect to the embedded MQTT broker")
            time.sleep(0.05)

    def _start_worker(self, settings: CloudSettings) -> None:
        from cloud.jobs.pipeline import default_pipelines
        from cloud.jobs.queue import JobQueue
        from cloud.jobs.worker import Worker

        queue = JobQueue(self.factory, settings.worker.lease_s)
        pipelines = default_pipelines(settings, self.factory, self.storage)
        worker = Worker(
            queue, pipelines, "demo-worker", settings.worker.heartbeat_s, settings.worker.poll_s
        )
        thread = threading.Thread(target=worker.run_forever, name="demo-worker", daemon=True)
        thread.start()

        def stop() -> None:
            worker.stop()
            thread.join(30)

        self._stops.append(("worker", stop))

    def start_nodes(self, mqtt_port: int) -> None:
        from edge.node import EdgeNode

        names = NODES[:1] if self.opts.video is not None else NODES
        for index, name in enumerate(names):
            settings = edge_settings(self.opts, name, index, mqtt_port)
            sources = None if self.opts.video else self.roster.source_factory(settings)
            try:
                node = EdgeNode(settings, sources=sources)
                node.start()
            except Exception as exc:  # a pose backend or the broker saying what to do
                raise DemoError(f"edge node {name} did not start: {exc}") from exc
            self.nodes.append(node)
            self._stops.append((f"node {name}", node.stop))

    def start_mirror(self, mqtt_port: int) -> str:
        """The live mirror of the first node, wearing the booth checkpoint; its URL."""
        from cloud.mirror.engine import MirrorModelError
        from cloud.mirror.server import MirrorServer, MirrorServerError
        from cloud.mirror.service import MirrorService, load_first, torch_loader
        from cloud.settings import MirrorSettings

        assert self.settings is not None
        settings = MirrorSettings.model_validate(
            {
                "node": NODES[0],
                "resolution": self.opts.resolution,
                "model": booth_checkpoint(self.opts.resolution),
                "device": "cpu",
            }
        )
        loader = torch_loader(settings.device)
        try:
            generator = load_first(settings, loader)
        except MirrorModelError as exc:
            raise DemoError(f"the mirror cannot start: {exc}") from None
        from cloud.mirror.lineup import Lineup

        assert self.factory is not None and self.storage is not None
        lineup = Lineup(self.factory, self.settings.booth, settings.node)
        service = MirrorService(
            self.settings.mqtt,
            settings,
            self.settings.booth,
            generator,
            loader=loader,
            lineup=lineup,
            fetch=self.storage.get,
        )
        service.start()
        self._stops.append(("mirror", service.stop))
        # Beside the API's port; --port 0 (any free port) leaves the mirror's free too.
        port = port_or_free(self.opts.port + 10) if self.opts.port else 0
        server = MirrorServer(service, "127.0.0.1", port)
        try:
            url = server.start()
        except MirrorServerError as exc:
            raise DemoError(str(exc)) from None
        self._stops.append(("mirror page", server.stop))
        return url

    def stop(self) -> None:
        for name, stop in reversed(self._stops):
            try:
                stop()
            except Exception:
                logger.exception("stopping the demo's %s failed", name)
        self._stops.clear()
