"""``dancebooth cloud mirror``: the node's live keypoints in, the mirror's frames out.

Wires one MQTT connection (the ``live`` and ``status`` topics of one node, QoS 0; the
connection reconnects by itself, and while the node or the broker is away the page shows
"step in to dance"), the :class:`~cloud.mirror.gate.LiveGate`, the
:class:`~cloud.mirror.engine.MirrorEngine` with its generator, and the web app.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from cloud.mirror.engine import Loader, MirrorEngine, MirrorModelError
from cloud.mirror.gate import LiveGate
from cloud.mirror.hub import FrameHub
from cloud.render.generator import Generator
from cloud.settings import MirrorSettings
from common.mqtt import ClientOptions, Connection
from protocol.errors import MessageError
from protocol.messages import NodeState, NodeStatus, decode_message
from protocol.settings import MqttSettings
from protocol.topics import NodeChannel, Topics

logger = logging.getLogger(__name__)

MODELS = Path(__file__).resolve().parents[2] / "models"


def default_model(resolution: int) -> Path:
    """The booth checkpoint that ships for ``resolution`` (a staff dancer)."""
    return MODELS / f"booth-{resolution}.safetensors"


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
    path = settings.model or default_model(settings.resolution)
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


class MirrorService:
    """The gate, the engine and the MQTT subscription of one node's mirror."""

    def __init__(
        self,
        mqtt_settings: MqttSettings,
        settings: MirrorSettings,
        booth: str,
        generator: Generator,
        *,
        loader: Loader | None = None,
    ) -> None:
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
        first = settings.model or default_model(settings.resolution)
        self.playlist = Playlist([first, *settings.playlist], settings.rotate_s)
        self._stop = threading.Event()
        self._rotator = threading.Thread(target=self._rotate, name="mirror-playlist", daemon=True)
        options = ClientOptions(client_id=f"mirror-{booth}-{self.node}"[:64])
        self.connection = Connection(
            mqtt_settings, options, setup=self._install, on_connect=self._subscribe
        )

    def start(self, wait_s: float = 5.0) -> bool:
        """Start the engine and connect; whether the broker answered within ``wait_s``."""
        self.engine.start()
        if len(self.playlist.paths) > 1:
            self._rotator.start()
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
        if self._rotator.is_alive():
            self._rotator.join(5)

    def _rotate(self) -> None:
        """The playlist: the next model once its time is up and nobody is dancing."""
        while not self._stop.wait(1.0):
            if self.engine.framing.present(time.time_ns()) or not self.playlist.due():
                continue
            for path in self.playlist.upcoming():
                try:
                    self.engine.switch(path)
                except MirrorModelError as exc:
                    logger.error("playlist: %s; trying the next one", exc)
                    continue
                self.playlist.worn(path)
                break
            else:
                self.playlist.worn(None)  # none would load: try again next period

    def stats(self) -> dict[str, Any]:
        return {
            **self.engine.stats(),
            "node": self.node,
            "node_state": self.node_state.value if self.node_state else None,
            "broker": self.connection.is_connected(),
            "keypoints_accepted": self.gate.accepted,
            "keypoints_dropped": dict(self.gate.dropped),
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
