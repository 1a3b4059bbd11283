"""The mirror service end to end through a real Mosquitto: live keypoints in, frames out
over WebSocket and MJPEG; bad messages counted; the node going away shows the card; a
slow viewer gets the newest frame, not a backlog; and Chromium shows the frames."""

from __future__ import annotations

import base64
import os
import socket
import struct
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from websockets.sync.client import connect

from cloud.mirror.hub import parse_message
from cloud.mirror.server import MirrorServer
from cloud.mirror.service import MirrorService
from cloud.render.generator import Generator, PosePainter
from cloud.settings import MirrorSettings
from protocol.live import encode_live
from protocol.settings import MqttSettings
from protocol.topics import Topics
from tests.cloud.mirror.helpers import live, standing, watched
from tests.services import Mosquitto, missing

pytestmark = pytest.mark.services
TOPIC = Topics().live("booth1", "node1")


def _wait(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@dataclass
class Running:
    service: MirrorService
    server: MirrorServer
    node: mqtt.Client
    url: str

    def feed(self, seconds: float, fps: float = 30.0, first: int = 0) -> int:
        """Publish a dancing node's live keypoints for ``seconds``; return the next seq."""
        seq = first
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.node.publish(TOPIC, encode_live(live(seq)), qos=0)
            seq += 1
            time.sleep(1 / fps)
        return seq

    def stats(self) -> dict[str, Any]:
        import json

        with urllib.request.urlopen(self.url + "/stats", timeout=5) as r:
            return dict(json.loads(r.read()))


@pytest.fixture
def running(mosquitto: Mosquitto) -> Iterator[Running]:
    settings = MirrorSettings(node="node1", resolution=128, absent_s=0.5)
    mqtt_settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    service = MirrorService(mqtt_settings, settings, "booth1", PosePainter(128, temporal=True))
    watched(service.hub)
    assert service.start(10)
    server = MirrorServer(service)
    url = server.start()
    node = mqtt.Client(CallbackAPIVersion.VERSION2)
    node.connect(mosquitto.host, mosquitto.port)
    node.loop_start()
    yield Running(service, server, node, url)
    node.loop_stop()
    node.disconnect()
    server.stop()
    service.stop()


def _ws_url(url: str) -> str:
    return url.replace("http://", "ws://") + "/ws"


def test_frames_of_the_dancer_arrive_over_websocket_and_bad_keypoints_are_counted(
    running: Running,
) -> None:
    feeder = threading.Thread(target=running.feed, args=(2.0,))
    feeder.start()
    heads = []
    with connect(_ws_url(running.url), open_timeout=5) as ws:
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            head, jpeg = parse_message(ws.recv(timeout=5))  # type: ignore[arg-type]
            ws.send("ack")
            assert jpeg[:2] == b"\xff\xd8"
            heads.append(head)
    feeder.join()
    shown = [h for h in heads if h["present"]]
    assert shown, "no frame of the dancer"
    indexes = [h["index"] for h in heads]
    assert indexes == sorted(set(indexes))  # each newer than the last
    bad = standing()
    bad[0, 0] = np.nan
    running.node.publish(TOPIC, encode_live(live(9999, bad), check=False))
    running.node.publish(TOPIC, encode_live(live(10000, capture_ns=time.time_ns() + 10**11)))
    assert _wait(lambda: sum(running.stats()["keypoints_dropped"].values()) >= 2)
    stats = running.stats()
    assert stats["keypoints_dropped"].get("nan") == 1
    assert stats["keypoints_dropped"].get("future") == 1
    assert stats["frames"] >= len(shown) and stats["broker"]


def test_the_node_going_away_shows_step_in_and_mjpeg_serves_frames(running: Running) -> None:
    running.feed(0.5)
    assert _wait(lambda: (f := running.service.hub.latest()) is not None and f.present)
    # The node stops publishing: after absent_s the card is shown.
    assert _wait(lambda: (f := running.service.hub.latest()) is not None and not f.present)
    with urllib.request.urlopen(running.url + "/mjpeg", timeout=5) as r:
        assert r.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        part = r.read(4096)
    assert b"Content-Type: image/jpeg" in part and b"\xff\xd8" in part
    # It comes back: the dancer again.
    running.feed(0.5, first=5000)
    assert _wait(lambda: (f := running.service.hub.latest()) is not None and f.present)


class SlowViewer:
    """A WebSocket client on a raw socket with a small receive buffer, that reads only
    when told: a phone on a bad link."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /mirror/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101")

    def _frame(self) -> tuple[int, bytes] | None:
        """One whole frame (opcode, payload) from the buffer, or None for want of bytes."""
        if len(self.buf) < 2:
            return None
        n, at = self.buf[1] & 0x7F, 2
        if n == 126:
            if len(self.buf) < 4:
                return None
            (n,), at = struct.unpack(">H", self.buf[2:4]), 4
        elif n == 127:
            if len(self.buf) < 10:
                return None
            (n,), at = struct.unpack(">Q", self.buf[2:10]), 10
        if len(self.buf) < at + n:
            return None
        opcode, payload = self.buf[0] & 0x0F, self.buf[at : at + n]
        self.buf = self.buf[at + n :]
        return opcode, payload

    def read(self, seconds: float) -> list[dict[str, Any]]:
        """The messages that arrive within ``seconds``."""
        self.sock.settimeout(0.1)
        heads = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            frame = self._frame()
            if frame is None:
                try:
                    chunk = self.sock.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    raise ConnectionError("the server closed the connection")
                self.buf += chunk
            elif frame[0] == 2:
                heads.append(parse_message(frame[1])[0])
        return heads

    def ack(self, n: int = 1) -> None:
        """Acknowledge ``n`` frames (masked text frames, as a client must send)."""
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(b"ack"))
        self.sock.sendall((bytes([0x81, 0x80 | 3]) + mask + body) * n)

    def close(self) -> None:
        self.sock.close()


def test_a_viewer_that_does_not_read_gets_the_newest_frame_when_it_does(
    running: Running,
) -> None:
    viewer = SlowViewer(running.server.port)
    try:
        running.feed(3.0)  # ~90 frames made while the viewer takes none
        made = running.service.hub.latest()
        assert made is not None
        held = viewer.read(1.0)
        assert len(held) <= 2  # what the server sent before the viewer fell behind
        viewer.ack(len(held))
        newest = viewer.read(0.5)
    finally:
        viewer.close()
    assert newest and newest[0]["index"] >= made.index  # the newest, not the next in line


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.slow
def test_chromium_shows_new_frames_on_the_mirror_page(running: Running) -> None:
    if not os.path.exists(CHROMIUM):
        missing("Chromium", "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    feeder = threading.Thread(target=running.feed, args=(6.0,))
    feeder.start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(running.url + "?operator")
            page.wait_for_function("window.mirrorFrames > 0", timeout=10_000)
            before = page.evaluate("window.mirrorFrames")
            page.wait_for_timeout(2000)
            after = page.evaluate("window.mirrorFrames")
            assert after > before, "the page stopped showing new frames"
            assert page.locator("#mark").inner_text() == "AI-generated"
            assert "fps" in page.locator("#figures").inner_text()
            browser.close()
    finally:
        feeder.join()


def _playlist_loader(path: Path) -> Generator:
    if path.stem == "broken":
        raise ValueError("not a checkpoint")
    return PosePainter(128, temporal=path.stem == "temporal")


def test_the_playlist_wears_the_next_model_that_loads_once_nobody_dances(
    mosquitto: Mosquitto,
) -> None:
    paths = [Path("plain.safetensors"), Path("broken.safetensors"), Path("temporal.safetensors")]
    settings = MirrorSettings(
        node="node1", resolution=128, model=paths[0], playlist=paths[1:], rotate_s=5
    )
    mqtt_settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    service = MirrorService(
        mqtt_settings, settings, "booth1", _playlist_loader(paths[0]), loader=_playlist_loader
    )
    service.start(10)
    try:
        assert service.engine.model_version == "pose-painter-128"
        service.playlist.worn(paths[0])
        service.playlist._since -= 10  # its time is up
        assert _wait(lambda: service.engine.model_version == "pose-painter-128-t")
        assert not service.playlist.due()  # the period starts again
    finally:
        service.stop()
    assert [p.name for p in service.playlist.upcoming()] == [
        "plain.safetensors",
        "broken.safetensors",
    ]
