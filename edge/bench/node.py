"""``dancebooth bench edge node``: a whole node, camera to broker, on this machine.

A real :class:`~edge.node.EdgeNode` captures the synthetic dancer live at ``--fps``
(640×480 by default) with the chosen pose backend, repair/smoothing and the spool,
and publishes to a broker; a subscriber on the same broker counts what arrives.
Prints frames dropped, pose fps, the latency from capture to arrival, and how long
after the capture ended the last frame and the manifest arrived.

The broker is ``--broker HOST:PORT``, or a private Mosquitto started with the
project's config when ``mosquitto`` is installed.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import click
import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import TypeAdapter

from edge.node import EdgeNode
from edge.settings import EdgeSettings, PoseSettings, SpoolSettings, SyntheticSource
from protocol.codec import decode_packet
from protocol.messages import CaptureManifest, decode_message
from protocol.settings import MqttSettings
from protocol.topics import NodeChannel, Topics

MOSQUITTO_CONF = Path(__file__).resolve().parents[2] / "infra" / "mosquitto" / "mosquitto.conf"


@contextlib.contextmanager
def private_mosquitto() -> Iterator[tuple[str, int]]:
    """Mosquitto with the project's config on a free local port, anonymous."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        raise click.ClickException("mosquitto is not installed: pass --broker HOST:PORT")
    with tempfile.TemporaryDirectory(prefix="dancebooth-bench-mqtt-") as tmp, socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
        s.close()
        conf = Path(tmp) / "mosquitto.conf"
        conf.write_text(
            MOSQUITTO_CONF.read_text() + f"\npersistence false\n"
            f"listener {port} 127.0.0.1\nallow_anonymous true\n"
        )
        proc = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            for _ in range(100):
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                time.sleep(0.05)
            yield "127.0.0.1", port
        finally:
            proc.terminate()
            proc.wait(5)


class Arrivals:
    """Subscriber that records when each frame and the manifest arrive."""

    def __init__(self, host: str, port: int, session: str) -> None:
        self.session = session
        self.latency_ms: dict[int, float] = {}
        self.mask_bytes: dict[int, int] = {}  # seq -> bytes of its person mask (0: none)
        self.packet_bytes: dict[int, int] = {}
        self.last_frame_at = 0.0
        self.manifest: CaptureManifest | None = None
        self.manifest_at = 0.0
        self._ready = threading.Event()
        topics = Topics()
        self._filters = [
            topics.channel_filter(c) for c in (NodeChannel.FRAMES, NodeChannel.MANIFEST)
        ]
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._ready.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        self._ready.wait(10)

    def _on_connect(self, client: mqtt.Client, *args: object) -> None:
        for topic_filter in self._filters:
            client.subscribe(topic_filter, qos=1)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        now = time.time()
        if "/manifest/" in msg.topic:
            self.manifest, self.manifest_at = (
                decode_message(CaptureManifest, bytes(msg.payload)),
                now,
            )
            return
        packet = decode_packet(msg.payload)
        if packet.session == self.session:
            self.latency_ms.setdefault(packet.seq, (now - packet.capture_ns / 1e9) * 1e3)
            self.mask_bytes[packet.seq] = len(packet.mask or b"")
            self.packet_bytes[packet.seq] = len(msg.payload)
            self.last_frame_at = now

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _settings(
    host: str,
    port: int,
    spool: Path,
    pose: str,
    width: int,
    height: int,
    fps: float,
    person_mask: bool = True,
    live: bool = True,
) -> EdgeSettings:
    chosen: dict[str, object] = {"type": pose}
    if pose == "blazepose":
        chosen["person_mask"] = person_mask
    try:
        pose_settings = TypeAdapter(PoseSettings).validate_python(chosen)
    except ValueError as exc:
        raise click.ClickException(f"pose backend {pose!r}: {exc}") from None
    return EdgeSettings.model_validate(
        {
            "mqtt": MqttSettings(host=host, port=port),
            "spool": SpoolSettings(path=spool),
            "source": SyntheticSource(realtime=True),
            "pose": pose_settings,
            "capture": {"width": width, "height": height, "fps": fps},
            "live": {"enabled": live},
        }
    )


@click.command("node")
@click.option("--fps", default=30.0, show_default=True)
@click.option("--seconds", default=15.0, show_default=True)
@click.option("--width", default=640, show_default=True)
@click.option("--height", default=480, show_default=True)
@click.option(
    "--pose",
    "pose_name",
    default="replay",
    show_default=True,
    help="Pose backend (replay, blazepose, ...).",
)
@click.option("--broker", default=None, help="HOST:PORT (default: a private Mosquitto).")
@click.option(
    "--person-mask/--no-person-mask",
    default=True,
    show_default=True,
    help="BlazePose sends its person mask (off: for its cost).",
)
@click.option(
    "--live/--no-live",
    default=True,
    show_default=True,
    help="Publish the live keypoint stream beside the frames (off: for its cost).",
)
def bench_node(
    fps: float,
    seconds: float,
    width: int,
    height: int,
    pose_name: str,
    broker: str | None,
    person_mask: bool,
    live: bool,
) -> None:
    """A node end to end: live capture -> pose -> spool -> broker -> a subscriber."""
    with contextlib.ExitStack() as stack:
        if broker:
            host, _, port_s = broker.rpartition(":")
            host, port = host or "127.0.0.1", int(port_s)
        else:
            host, port = stack.enter_context(private_mosquitto())
        spool = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dancebooth-bn-")))
        session = f"bench{int(time.time())}"
        arrivals = Arrivals(host, port, session)
        stack.callback(arrivals.close)
        settings = _settings(host, port, spool, pose_name, width, height, fps, person_mask, live)
        node = EdgeNode(settings)
        node.start()
        stack.callback(node.stop)
        click.echo(
            f"node: {width}x{height} synthetic dancer live at {fps:g} fps for "
            f"{seconds:g} s, pose {pose_name}, broker {host}:{port},"
            f" live keypoints {'on' if live else 'off'}"
        )
        run = node.capture(session, seconds)
        result = run.wait()
        assert result is not None
        ended = time.time()
        node.wait_idle(600)
        deadline = time.time() + 30
        while arrivals.manifest is None and time.time() < deadline:
            time.sleep(0.05)
        _report(result.seq_count, len(result.dropped), arrivals, ended, node)


def _report(captured: int, dropped: int, arrivals: Arrivals, ended: float, node: EdgeNode) -> None:
    lat = np.array(list(arrivals.latency_ms.values()) or [np.nan])
    pose = node.annotator.counters
    click.echo(f"captured {captured} frames, dropped {dropped}, arrived {len(arrivals.latency_ms)}")
    click.echo(f"pose: {pose.inference_ms:.1f} ms per frame (recent mean)")
    masked = [b for b in arrivals.mask_bytes.values() if b]
    sizes = list(arrivals.packet_bytes.values()) or [0]
    click.echo(
        f"person mask: in {len(masked)}/{len(arrivals.mask_bytes)} packets, median "
        f"{np.median(masked or [0]):.0f} B of a median {np.median(sizes):.0f} B packet; "
        f"PNG encode {pose.mask_ms:.2f} ms per frame (recent mean); "
        f"{pose.unmasked} sent without"
    )
    click.echo(
        f"capture -> subscriber latency: median {np.median(lat):.0f} ms, "
        f"p95 {np.percentile(lat, 95):.0f} ms, max {lat.max():.0f} ms"
    )
    tail = arrivals.last_frame_at - ended
    manifest = "never" if arrivals.manifest is None else f"{arrivals.manifest_at - ended:.2f} s"
    click.echo(f"after the capture ended: last frame {tail:.2f} s, manifest {manifest}")
    if node.live is not None:
        c = node.live.counters
        click.echo(
            f"live keypoints: {c.offered} offered, {c.sent} sent, {c.dropped} dropped for newer"
            f" ones, {c.failed} not sent (no connection or socket busy)"
        )
