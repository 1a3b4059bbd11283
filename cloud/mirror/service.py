"""``dancebooth cloud mirror``: the node's live keypoints in, the mirror's frames out.

Wires one MQTT connection (the ``live`` and ``status`` topics of one node, QoS 0; the
connection reconnects by itself, and while the node or the broker is away the page shows
"step in to dance"), the :class:`~cloud.mirror.gate.LiveGate`, the
:class:`~cloud.mirror.engine.MirrorEngine` with its generator, and the web app.

Its manager thread decides what the dancer wears, once a second:

- the booth's chosen visitors (:mod:`cloud.mirror.lineup`), fetched from the object store
  into a private folder; a visitor who leaves the lineup (deleted, consent expired, taken
  off by the operator) is taken off at once, even mid-dance, and their file deleted;
- else the booth checkpoint and ``mirror.playlist``.

It wears the next model of its lineup every ``rotate_s`` once nobody is dancing, and
reports what it wears, and any model it refused, to the dashboard.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from cloud.booth_models import booth_checkpoint
from cloud.mirror.engine import Loader, MirrorEngine, MirrorModelError
from cloud.mirror.gate import LiveGate
from cloud.mirror.hub import FrameHub
from cloud.mirror.lineup import REPORT_EVERY_S, Lineup, Wearer
from cloud.render.generator import Generator, PosePainter
from cloud.settings import MirrorSettings
from common.mqtt import ClientOptions, Connection
from protocol.errors import MessageError
from protocol.messages import NodeState, NodeStatus, decode_message
from protocol.settings import MqttSettings
from protocol.topics import NodeChannel, Topics

logger = logging.getLogger(__name__)


def torch_loader(device: str) -> Loader:
    """Checkpoints loaded as :class:`~cloud.render.torch_generator.TorchGenerator`."""

    def load(path: Path) -> Generator:
        from cloud.render.torch_generator import TorchGenerator

        if not path.is_file():
            raise MirrorModelError(f"no model file at {path}")
        return TorchGenerator.from_checkpoint(path, device=device)

    return load


def load_first(settings: MirrorSettings, loader: Loader) -> Generator:
    """The model the mirror starts with; raises :class:`MirrorModelError` with what to do."""
    path = settings.model or booth_checkpoint(settings.resolution)
    try:
        generator = loader(path)
    except MirrorModelError:
        raise
    except Exception as exc:
        raise MirrorModelError(f"cannot start the mirror with {path}: {exc}") from exc
    if generator.resolution != settings.resolution:
        raise MirrorModelError(
            f"{path} is a {generator.resolution} px model but mirror.resolution is"
            f" {settings.resolution}: set --resolution {generator.resolution} or pick a"
            f" {settings.resolution} px model"
        )
    return generator


class Playlist:
    """Models worn in turn, ``rotate_s`` each (the first is the one the mirror starts with)."""

    def __init__(self, paths: list[Path], rotate_s: float) -> None:
        self.paths, self.rotate_s = paths, rotate_s
        self._current = 0
        self._since = time.monotonic()

    @property
    def current(self) -> Path | None:
        return self.paths[self._current] if self.paths else None

    def due(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) - self._since >= self.rotate_s

    def upcoming(self) -> list[Path]:
        """The others, next first."""
        n = len(self.paths)
        return [self.paths[(self._current + i) % n] for i in range(1, n)]

    def worn(self, path: Path | None) -> None:
        """``path`` is worn now (None: none of the others could be); the period restarts."""
        if path is not None:
            self._current = self.paths.index(path)
        self._since = time.monotonic()

    def replace(self, paths: list[Path], worn: Path | None) -> None:
        """A new list of models; ``worn`` (one of them, or None) is worn now."""
        self.paths = paths
        self._current = paths.index(worn) if worn in paths else 0
        self._since = time.monotonic()


Fetch = Callable[[str], bytes]  # an object key's bytes (Storage.get)
TICK_S = 1.0  # how often the manager looks at the lineup and the playlist


class MirrorService:
    """The gate, the engine, the MQTT subscription and the lineup of one node's mirror."""

    def __init__(
        self,
        mqtt_settings: MqttSettings,
        settings: MirrorSettings,
        booth: str,
        generator: Generator,
        *,
        loader: Loader | None = None,
        lineup: Lineup | None = None,
        fetch: Fetch | None = None,
    ) -> None:
        if (lineup is None) != (fetch is None):
            raise ValueError("a lineup needs a fetch for its models, and the other way round")
        self.settings, self.booth, self.node = settings, booth, settings.node
        self.topics = Topics(mqtt_settings.prefix)
        self.hub = FrameHub()
        self.gate = LiveGate()
        self.engine = MirrorEngine(
            generator,
            self.hub,
            loader=loader,
            jpeg_quality=settings.jpeg_quality,
            absent_s=settings.absent_s,
            reframe_after_s=settings.reframe_after_s,
            max_age_s=settings.max_age_s,
        )
        self.node_state: NodeState | None = None
        first = settings.model or booth_checkpoint(settings.resolution)
        self.booth_models = [first, *settings.playlist]
        self.playlist = Playlist(list(self.booth_models), settings.rotate_s)
        self._worn: Path | None = first  # the file the engine wears; None: none loaded
        self.lineup, self.fetch = lineup, fetch
        self.visitors: dict[Path, str] = {}  # fetched model file -> its session
        self.refused: dict[str, str] = {}  # session -> why it cannot be worn here
        self.lineup_error: str | None = None  # the lineup could not be read or fetched
        self._cache = Path(tempfile.mkdtemp(prefix="dancebooth-mirror-"))
        self._reported: tuple[str, str | None, str | None] | None = None
        self._reported_at = -float("inf")
        self._stop = threading.Event()
        self._manager = threading.Thread(target=self._manage, name="mirror-models", daemon=True)
        options = ClientOptions(client_id=f"mirror-{booth}-{self.node}"[:64])
        self.connection = Connection(
            mqtt_settings, options, setup=self._install, on_connect=self._subscribe
        )

    @property
    def wearing_session(self) -> str | None:
        """The visitor whose model is worn now; None: a booth checkpoint."""
        return self.visitors.get(self._worn) if self._worn is not None else None

    def start(self, wait_s: float = 5.0) -> bool:
        """Start the engine and connect; whether the broker answered within ``wait_s``."""
        self.engine.start()
        self._manager.start()
        up = self.connection.start(wait_s)
        if not up:
            logger.warning(
                "%s; the mirror shows 'step in to dance' meanwhile",
                self.connection.problem or "the MQTT broker is not reachable yet",
            )
        return up

    def stop(self) -> None:
        self._stop.set()
        self.connection.stop()
        self.engine.stop()
        if self._manager.is_alive():
            self._manager.join(10)
        shutil.rmtree(self._cache, ignore_errors=True)

    # -- what the dancer wears (the manager thread) -------------------------------------
    def _manage(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:
                logger.exception("the mirror's model manager failed; trying again")
            if self._stop.wait(TICK_S):
                return

    def tick(self) -> None:
        """Follow the lineup, rotate when due, report; called by the manager thread."""
        if self.lineup is not None:
            self._follow(self._wanted())
        self._rotate()
        self._report()

    def _wanted(self) -> list[Wearer] | None:
        assert self.lineup is not None
        try:
            wanted = self.lineup.wanted()
        except Exception as exc:  # the database is away: keep what is worn
            self.lineup_error = f"cannot read the booth's mirror lineup: {exc}"
            logger.warning("%s", self.lineup_error)
            return None
        self.lineup_error = None
        return wanted

    def _follow(self, wanted: list[Wearer] | None) -> None:
        """Drop the visitors no longer wanted (at once), fetch the new ones, and wear the
        new lineup when what is worn is not in it."""
        if wanted is None:
            return
        ids = {w.session_id for w in wanted}
        self.refused = {sid: why for sid, why in self.refused.items() if sid in ids}
        gone = [path for path, sid in self.visitors.items() if sid not in ids]
        for w in wanted:
            if w.session_id not in self.visitors.values() and w.session_id not in self.refused:
                self._fetch(w)
        for _ in range(2):  # a second round when every visitor was refused: the booth's
            lineup = self._lineup(wanted)
            if lineup == self.playlist.paths and self._worn in lineup:
                break
            if self._worn in lineup:
                self.playlist.replace(lineup, self._worn)
                break
            worn = self._wear_first(lineup)
            if worn is not None:
                self.playlist.replace(lineup, worn)
                break
        else:  # nothing loads: a gone visitor's model must not stay on, the skeleton is
            self.playlist.replace(lineup, None)
            self.engine.wear(PosePainter(self.engine.resolution))
            self._worn = None
        for path in gone:
            del self.visitors[path]
            path.unlink(missing_ok=True)

    def _lineup(self, wanted: list[Wearer]) -> list[Path]:
        """The fetched, not refused visitors' files in the operator's order; else the
        booth's models."""
        by_session = {sid: path for path, sid in self.visitors.items()}
        paths = [
            by_session[w.session_id]
            for w in wanted
            if w.session_id in by_session and w.session_id not in self.refused
        ]
        return paths or list(self.booth_models)

    def _fetch(self, w: Wearer) -> None:
        assert self.fetch is not None
        path = self._cache / f"{w.session_id}.safetensors"
        try:
            path.write_bytes(self.fetch(w.key))
        except Exception as exc:
            self.refused[w.session_id] = f"cannot fetch the model of {w.session_id}: {exc}"
            logger.error("%s", self.refused[w.session_id])
            return
        self.visitors[path] = w.session_id

    def _wear_first(self, paths: list[Path]) -> Path | None:
        """Wear the first of ``paths`` that loads; the one worn, or None if none would."""
        for path in paths:
            if self._wear(path):
                return path
        return None

    def _wear(self, path: Path) -> bool:
        try:
            self.engine.switch(path)
        except MirrorModelError as exc:
            sid = self.visitors.get(path)
            if sid is not None:  # not tried again until the operator picks it afresh
                self.refused[sid] = str(exc)
            logger.error("mirror: %s", exc)
            return False
        self._worn = path
        return True

    def _rotate(self) -> None:
        """The next model once its time is up and nobody is dancing."""
        if len(self.playlist.paths) < 2 or not self.playlist.due():
            return
        if self.engine.framing.present(time.time_ns()):
            return
        upcoming = [p for p in self.playlist.upcoming() if self.visitors.get(p) not in self.refused]
        self.playlist.worn(self._wear_first(upcoming))

    def _report(self) -> None:
        if self.lineup is None:
            return
        error = (
            self.engine.model_error or self.lineup_error or next(iter(self.refused.values()), None)
        )
        now = (self.engine.model_version, self.wearing_session, error)
        if now == self._reported and time.monotonic() - self._reported_at < REPORT_EVERY_S:
            return
        try:
            self.lineup.report(*now)
        except Exception as exc:
            logger.warning("cannot report the mirror's model to the dashboard: %s", exc)
            return
        self._reported, self._reported_at = now, time.monotonic()

    def stats(self) -> dict[str, Any]:
        return {
            **self.engine.stats(),
            "node": self.node,
            "node_state": self.node_state.value if self.node_state else None,
            "broker": self.connection.is_connected(),
            "keypoints_accepted": self.gate.accepted,
            "keypoints_dropped": dict(self.gate.dropped),
            "wearing_session": self.wearing_session,
            "lineup": [self.visitors.get(p, p.name) for p in self.playlist.paths],
            "refused": dict(self.refused),
        }

    # -- MQTT (paho's network thread) ---------------------------------------------------
    def _install(self, client: mqtt.Client) -> None:
        client.on_message = self._on_message

    def _subscribe(self, client: mqtt.Client) -> None:
        client.subscribe(
            [
                (self.topics.live(self.booth, self.node), 0),
                (self.topics.status(self.booth, self.node), 0),
            ]
        )

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic.endswith("/" + NodeChannel.STATUS.value):
            self._status(bytes(msg.payload))
            return
        live = self.gate.admit(bytes(msg.payload))
        if live is not None:
            self.engine.offer(live)

    def _status(self, payload: bytes) -> None:
        try:
            status = decode_message(NodeStatus, payload)
        except MessageError as exc:
            logger.debug("ignoring a status of %s: %s", self.node, exc)
            return
        if status.state != self.node_state:
            logger.info("node %s is %s", self.node, status.state.value)
            if status.state is NodeState.OFFLINE:
                self.gate.forget()
        self.node_state = status.state
