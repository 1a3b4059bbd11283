"""``dancebooth bench mirror``: the live mirror's fps and latency, keypoints in to frame out.

First a real :class:`~edge.node.EdgeNode` (a camera replaying a recorded dance at
30 fps, the ``replay`` pose backend, live stream on) publishes for ``--node-seconds``
into a private Mosquitto; its own live messages carry capture and publish times, which give the
node's capture -> publish latency. Then, for each ``--resolution``, a
:class:`~cloud.mirror.service.MirrorService` wearing the booth checkpoint of that size
subscribes; a feeder publishes a recorded reference dance's keypoints at ``--hz``
(QoS 0, stamped as captured when sent) and a WebSocket client on ``/mirror/ws`` takes
every frame it is sent (acknowledging each, as the page does). Measured after a
1 s warm-up:

- delivered fps: frames of the dancer the client received per second;
- keypoints -> frame: from the keypoints reaching the mirror to the JPEG being ready
  (the mirror's own clock), p50 / p95;
- publish -> client: from the feeder's publish to the client holding the frame;
- glass-to-glass, estimated: the node's capture -> publish p95 plus publish -> client
  p95 (adding p95s over-states the p95 of the sum). Not included: the camera's exposure
  and read-out and the display's refresh (on real hardware, one or two frame times more),
  and a real pose backend's time (``replay`` costs nothing; see ``bench edge pose``).

``--browser`` also opens ``/mirror`` in Chromium (``/usr/bin/chromium``) during each
lone run and counts the new frames it shows per second. ``--beside-finetune`` runs
each resolution a second time while a fine-tune
(``dancebooth model finetune`` on a synthetic session) trains in another process.
The last line is ``mirror 256 px: X fps, keypoints->frame p95 Y ms, glass-to-glass p95 Z ms``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.frames import Frame
from edge.sources import FrameSource
from protocol.live import decode_live, encode_live
from protocol.topics import Topics

BOOTH, NODE = "bench", "mirror1"
TOPICS = Topics()
WARMUP_S = 1.0


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


class RecordedCamera(FrameSource):
    """A camera showing a recorded dance: each frame stamped when read, as a camera does
    (the synthetic source stamps a schedule, which a loaded machine falls behind), with
    the recorded keypoints for the ``replay`` backend; a plain image, so drawing costs
    nothing."""

    name = "recorded"

    def __init__(self, fps: float) -> None:
        kps, width, height, _ = recorded_keypoints()
        super().__init__(width, height, fps)
        self.kps = kps
        self.image = np.full((height, width, 3), 90, np.uint8)
        self._seq, self._next = 0, 0.0

    def open(self) -> None:
        self._next = time.monotonic()

    def read(self) -> Frame | None:
        self._next += 1 / self.fps
        delay = self._next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        frame = Frame(
            self._seq, time.time_ns(), self.image, truth=self.kps[self._seq % len(self.kps)]
        )
        self._seq += 1
        return self._delivered(frame)


def node_latency_ms(host: str, port: int, seconds: float) -> list[float]:
    """A real node's capture -> publish latency of its live keypoints (ms, each message)."""
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings, SpoolSettings
    from protocol.settings import MqttSettings

    got: list[float] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2)

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        live = decode_live(msg.payload)
        got.append((live.publish_ns - live.capture_ns) / 1e6)

    client.on_message = on_message
    client.connect(host, port)
    client.subscribe(TOPICS.live(BOOTH, NODE), qos=0)
    client.loop_start()
    with tempfile.TemporaryDirectory(prefix="dancebooth-bm-") as spool:
        settings = EdgeSettings.model_validate(
            {
                "node": {"booth": BOOTH, "node": NODE},
                "mqtt": MqttSettings(host=host, port=port),
                "spool": SpoolSettings(path=Path(spool)),
                "plate": {"auto": False},
                "capture": {"fps": 30.0},
            }
        )
        node = EdgeNode(settings, watch_sources=RecordedCamera)
        node.start()
        time.sleep(seconds)
        node.stop()
    client.loop_stop()
    client.disconnect()
    return got[10:]  # the first few wait for the node's threads to settle


def recorded_keypoints() -> tuple[np.ndarray, int, int, float]:
    """A recorded dance's keypoints ``[T, 17, 3]``, its frame size and fps."""
    from common.reference import list_references

    dances = list_references()
    if not dances:
        raise click.ClickException("no reference dance in reference_videos/ to feed")
    dance = dances[0]
    return dance.keypoints, dance.width, dance.height, dance.fps


@dataclass
class Received:
    at: list[float] = field(default_factory=list)  # time.time() when the client held it
    sent_ns: list[int] = field(default_factory=list)  # the keypoints' capture (= send) time
    present: list[bool] = field(default_factory=list)


def _client(url: str, stop: threading.Event, out: Received) -> None:
    from websockets.sync.client import connect

    from cloud.mirror.hub import parse_message

    with connect(url, open_timeout=10, max_size=None) as ws:
        while not stop.is_set():
            try:
                data = ws.recv(timeout=0.5)
            except TimeoutError:
                continue
            ws.send("ack")
            head, _ = parse_message(data)  # type: ignore[arg-type]
            out.at.append(time.time())
            out.sent_ns.append(int(head["capture_ns"]))
            out.present.append(bool(head["present"]))


def _feed(host: str, port: int, hz: float, seconds: float) -> int:
    from protocol.live import LiveKeypoints

    kps, width, height, _ = recorded_keypoints()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect(host, port)
    client.loop_start()
    topic = TOPICS.live(BOOTH, NODE)
    start = time.monotonic()
    n = int(seconds * hz)
    for i in range(n):
        delay = start + i / hz - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        now = time.time_ns()
        live = LiveKeypoints(i, now, width, height, kps[i % len(kps)], 1, publish_ns=now)
        client.publish(topic, encode_live(live), qos=0)
    client.loop_stop()
    client.disconnect()
    return n


CHROMIUM = "/usr/bin/chromium"


def _browser(url: str, seconds: float, out: list[float]) -> None:
    """Chromium on the page: new frames shown per second over ``seconds`` (into ``out``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(url)
        page.wait_for_function("window.mirrorFrames > 0", timeout=30_000)
        page.wait_for_timeout(WARMUP_S * 1000)
        before, t0 = page.evaluate("window.mirrorFrames"), time.monotonic()
        page.wait_for_timeout(seconds * 1000)
        shown = page.evaluate("window.mirrorFrames") - before
        out.append(shown / (time.monotonic() - t0))
        browser.close()


@dataclass
class Figures:
    resolution: int
    fps: float
    kps_p50: float
    kps_p95: float
    client_p50: float
    client_p95: float
    dropped: int
    cpu_ms: float  # CPU time of this process (mirror, feeder, client) per frame made
    browser_fps: float | None = None


def run_mirror(
    host: str, port: int, resolution: int, hz: float, seconds: float, browser: bool = False
) -> Figures:
    from cloud.mirror.server import MirrorServer
    from cloud.mirror.service import MirrorService, load_first, torch_loader
    from cloud.settings import MirrorSettings
    from protocol.settings import MqttSettings

    settings = MirrorSettings(node=NODE, resolution=resolution, port=0)
    loader = torch_loader("cpu")
    service = MirrorService(
        MqttSettings(host=host, port=port), settings, BOOTH, load_first(settings, loader)
    )
    service.start(10)
    server = MirrorServer(service)
    url = server.start().replace("http://", "ws://") + "/ws"
    stop, got = threading.Event(), Received()
    client = threading.Thread(target=_client, args=(url, stop, got), daemon=True)
    client.start()
    shown: list[float] = []
    page = threading.Thread(
        target=_browser, args=(server.url, seconds - 2 * WARMUP_S, shown), daemon=True
    )
    if browser:
        page.start()
    try:
        t0, t0m = time.time(), time.monotonic()
        cpu0, made0 = time.process_time(), service.engine.frames
        _feed(host, port, hz, seconds)
        time.sleep(0.3)  # the last frames in flight
        cpu = (time.process_time() - cpu0) / max(1, service.engine.frames - made0) * 1e3
    finally:
        stop.set()
        client.join(5)
        if browser:
            page.join(60)
        server.stop()
        service.stop()
    keep = [
        i
        for i, (at, p) in enumerate(zip(got.at, got.present, strict=True))
        if p and at > t0 + WARMUP_S
    ]
    span = (got.at[keep[-1]] - got.at[keep[0]]) if len(keep) > 1 else float("nan")
    client_ms = [(got.at[i] - got.sent_ns[i] / 1e9) * 1e3 for i in keep]
    timings = service.engine.timings
    warm = t0m + WARMUP_S
    kps_ms = [ms for ms, at in zip(timings.keypoints_ms, timings.out_at, strict=True) if at > warm]
    return Figures(
        resolution,
        (len(keep) - 1) / span if len(keep) > 1 else 0.0,
        _p(kps_ms, 50),
        _p(kps_ms, 95),
        _p(client_ms, 50),
        _p(client_ms, 95),
        service.engine.dropped + service.engine.expired,
        cpu,
        shown[0] if shown else None,
    )


@contextlib.contextmanager
def finetune_beside() -> Iterator[None]:
    """A fine-tune training in another process for as long as the block runs."""
    with tempfile.TemporaryDirectory(prefix="dancebooth-bm-ft-") as tmp:
        cmd = [sys.executable, "-m", "benchmarks.mirror_load", tmp]
        proc = subprocess.Popen(
            cmd,
            cwd=Path(__file__).resolve().parents[1],  # the checkout, where benchmarks/ is
            env={**os.environ},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(20)  # data built and the training loop running
            if proc.poll() is not None:
                raise click.ClickException("the fine-tune beside the mirror did not start")
            yield
        finally:
            proc.terminate()
            proc.wait(30)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} (1 / 5 min)"


@click.command("mirror")
@click.option("--resolution", "resolutions", multiple=True, type=int, default=(128, 256))
@click.option("--seconds", default=10.0, show_default=True, help="Keypoints fed per run.")
@click.option("--hz", default=30.0, show_default=True, help="Keypoint rate fed.")
@click.option("--node-seconds", default=15.0, show_default=True, help="Node latency run.")
@click.option("--beside-finetune", is_flag=True, help="Also run each size beside a fine-tune.")
@click.option(
    "--browser", is_flag=True, help="Also count the frames Chromium shows on /mirror (alone)."
)
def bench_mirror(
    resolutions: tuple[int, ...],
    seconds: float,
    hz: float,
    node_seconds: float,
    beside_finetune: bool,
    browser: bool,
) -> None:
    """Live mirror: delivered fps, keypoints->frame and estimated glass-to-glass latency."""
    from cloud.mqtt.mosquitto import MosquittoNotFoundError, run_private_mosquitto

    try:
        broker_cm = run_private_mosquitto()
        broker = broker_cm.__enter__()
    except MosquittoNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        host, port = "127.0.0.1", broker.port
        click.echo(f"{_load()} before")
        node = node_latency_ms(host, port, node_seconds)
        node_p95 = _p(node, 95)
        click.echo(
            f"node capture -> publish (live keypoints, replay pose): p50 {_p(node, 50):.1f} ms,"
            f" p95 {node_p95:.1f} ms over {len(node)} messages"
        )
        runs = [(r, False) for r in resolutions]
        if beside_finetune:
            runs += [(r, True) for r in resolutions]
        last: tuple[Figures, float] | None = None
        for resolution, busy in runs:
            with finetune_beside() if busy else contextlib.nullcontext():
                f = run_mirror(host, port, resolution, hz, seconds, browser and not busy)
            glass = node_p95 + f.client_p95
            where = "beside a fine-tune" if busy else "alone"
            click.echo(
                f"{resolution} px {where}: {f.fps:.1f} fps delivered (fed {hz:g} Hz),"
                f" keypoints->frame p50 {f.kps_p50:.1f} / p95 {f.kps_p95:.1f} ms,"
                f" publish->client p50 {f.client_p50:.1f} / p95 {f.client_p95:.1f} ms,"
                f" {f.dropped} keypoints dropped; CPU {f.cpu_ms:.1f} ms per frame made"
                f" (mirror + feeder + client, all threads); {_load()}"
            )
            if f.browser_fps is not None:
                click.echo(f"  Chromium on /mirror: {f.browser_fps:.1f} new frames/s shown")
            if resolution == 256 and not busy:
                last = (f, glass)
        if last is not None:
            f, glass = last
            click.echo(
                f"mirror 256 px: {f.fps:.1f} fps, keypoints->frame p95 {f.kps_p95:.0f} ms,"
                f" glass-to-glass p95 {glass:.0f} ms"
            )
    finally:
        broker_cm.__exit__(None, None, None)
