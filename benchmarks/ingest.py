"""``dancebooth bench ingest``: frames/s and MB/s from publisher to stored shards + rows,
next to a raw paho subscriber on the same broker in the same run.

Both runs use a private Mosquitto with the project's config, the same pre-built 40 KB
packets from ``--nodes`` cameras (with ``--person-mask``, each also carrying the
synthetic booth's exact 128x96 person mask, about 1 KB, as nodes send it), and a
publisher in a separate process (QoS 1). The raw subscriber only counts messages; the
uploader validates, writes shards to a local store, commits rows to SQLite (WAL) and
acknowledges. Zero loss is checked after the timed part by reading every frame back.
"""

from __future__ import annotations

import multiprocessing as mp
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from rich.progress import Progress

from protocol.topics import NodeChannel, Topics

BOOTH = "bench"
TOPICS = Topics()


def _person_mask() -> bytes:
    """The synthetic booth's exact mask of one 640x480 frame, as a packet carries it."""
    from edge.synthetic.visitor import make_visitor
    from protocol.masks import encode_mask

    frame = next(make_visitor(0).frames(640, 480, 30.0, 0.1, masks=True))
    assert frame.truth_mask is not None
    return encode_mask(frame.truth_mask)


def _publish(
    port: int, session: str, nodes: int, frames: int, kb: int, mask: bool, go: Any
) -> None:
    """Child process: build the packets, then publish them all at QoS 1 and wait for acks."""
    from edge.bench.codec import sample_packet
    from protocol.codec import encode_packet

    png = _person_mask() if mask else None
    wire = []
    for i in range(frames):
        p = sample_packet(i // nodes, kb * 1000, seed=i % nodes)
        p.session, p.node, p.mask = session, f"cam{i % nodes + 1}", png
        wire.append((TOPICS.frames(BOOTH, p.node, session), encode_packet(p)))
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    go.wait()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in wire]
    for info in infos:
        info.wait_for_publish(600)
    client.disconnect()
    client.loop_stop()


@dataclass
class Run:
    name: str
    frames: int
    mb: float
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds

    def line(self) -> str:
        return (
            f"{self.name:16s} {self.frames:7d} frames {self.seconds:7.2f} s "
            f"{self.fps:9.0f} frames/s {self.mb / self.seconds:8.1f} MB/s"
        )


Args = tuple[int, int, int, bool]  # nodes, frames, JPEG KB, person mask


def _timed(port: int, session: str, args: Args, label: str, done: Callable[[], int]) -> float:
    nodes, frames, kb, mask = args
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    child = ctx.Process(target=_publish, args=(port, session, nodes, frames, kb, mask, go))
    child.start()
    time.sleep(0.5 + frames / 5000)  # let the child build its packets before the clock starts
    with Progress(transient=True) as progress:
        task = progress.add_task(label, total=frames)
        t0 = time.perf_counter()
        go.set()
        while (n := done()) < frames:
            progress.update(task, completed=n)
            if not child.is_alive() and child.exitcode:
                raise click.ClickException(f"publisher failed (exit {child.exitcode})")
            time.sleep(0.01)
        elapsed = time.perf_counter() - t0
    child.join(60)
    return elapsed


class _RawSubscriber:
    def __init__(self, port: int) -> None:
        self.count = 0
        self.bytes = 0
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        ready = threading.Event()
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(TOPICS.channel_filter(NodeChannel.FRAMES, BOOTH), qos=1)
        ready.wait(10)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.count += 1
        self.bytes += len(msg.payload)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _uploader_process(settings_json: str, ready: Any, stop: Any) -> None:
    """Child process: one uploader until told to stop."""
    from cloud.db.engine import make_engine
    from cloud.ingest.uploader import Uploader
    from cloud.settings import CloudSettings
    from cloud.storage import create_storage

    settings = CloudSettings.model_validate_json(settings_json)
    engine = make_engine(settings.database.url)
    with Uploader(settings, create_storage(settings.storage), engine):
        ready.set()
        stop.wait()
    engine.dispose()


def _start_uploaders(settings: Any, n: int) -> tuple[Any, list[Any]]:
    ctx = mp.get_context("spawn")
    stop, children = ctx.Event(), []
    for i in range(n):
        ready = ctx.Event()
        own = settings.model_copy(deep=True)
        own.uploader.client_id = f"bench-uploader-{i}"
        child = ctx.Process(target=_uploader_process, args=(own.model_dump_json(), ready, stop))
        child.start()
        children.append(child)
        if not ready.wait(60):
            raise click.ClickException("an uploader did not start")
    return stop, children


def _uploader_run(port: int, workdir: Path, args: Args, batch: int, uploaders: int) -> Run:
    from sqlalchemy import func, select

    from cloud.db.engine import make_engine, session_factory, upgrade_database
    from cloud.db.models import Frame
    from cloud.ingest.reader import iter_session_frames
    from cloud.settings import CloudSettings
    from cloud.storage import create_storage

    frames = args[1]
    settings = CloudSettings.model_validate(
        {
            "booth": BOOTH,
            "database": {"url": f"sqlite:///{workdir / 'bench.db'}"},
            "storage": {"type": "local", "root": str(workdir / "store")},
            "mqtt": {"port": port},
            "uploader": {"batch_frames": batch, "batch_seconds": 0.1},
        }
    )
    upgrade_database(settings.database.url)
    engine = make_engine(settings.database.url)
    factory = session_factory(engine)

    def stored() -> int:
        time.sleep(0.04)  # poll gently: the coordinator must not steal the uploaders' CPU
        with factory() as db:
            return int(db.scalar(select(func.count()).select_from(Frame)) or 0)

    stop, children = _start_uploaders(settings, uploaders)
    try:
        seconds = _timed(port, "sup", args, f"{uploaders} uploader(s)", stored)
    finally:
        stop.set()
        for child in children:
            child.join(30)
    storage = create_storage(settings.storage)
    read_back = [m for m, _ in iter_session_frames(storage, factory, "sup")]
    if len(read_back) != frames:
        raise click.ClickException(f"LOSS: {len(read_back)} of {frames} frames read back")
    with factory() as db:
        mb = int(db.scalar(select(func.sum(Frame.jpeg_bytes))) or 0) / 1e6
    engine.dispose()
    return Run(f"{uploaders} uploader(s)", frames, mb, seconds)


@click.command("ingest")
@click.option("--frames", default=6000, show_default=True, help="Packets per run.")
@click.option("--nodes", default=8, show_default=True, help="Cameras the packets come from.")
@click.option("--jpeg-kb", default=40, show_default=True, help="JPEG size per packet.")
@click.option("--batch", default=1000, show_default=True, help="Uploader batch (frames).")
@click.option(
    "--uploaders",
    default=1,
    show_default=True,
    help="Uploader processes sharing the subscription ($share).",
)
@click.option(
    "--person-mask", is_flag=True, help="Every packet carries a person mask (packet v2, ~1 KB)."
)
def bench_ingest(
    frames: int, nodes: int, jpeg_kb: int, batch: int, uploaders: int, person_mask: bool
) -> None:
    """Uploader throughput (MQTT → shards + SQLite rows) vs a raw paho subscriber."""
    from cloud.mqtt.mosquitto import MosquittoNotFoundError, run_private_mosquitto

    args = (nodes, frames, jpeg_kb, person_mask)
    try:
        with run_private_mosquitto() as broker, tempfile.TemporaryDirectory() as tmp:
            raw = _RawSubscriber(broker.port)
            seconds = _timed(broker.port, "sraw", args, "raw subscriber", lambda: raw.count)
            raw_run = Run("raw subscriber", raw.count, raw.bytes / 1e6, seconds)
            raw.close()
            up = _uploader_run(broker.port, Path(tmp), args, batch, uploaders)
    except MosquittoNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    with_mask = " + a person mask" if person_mask else ""
    click.echo(
        f"{frames} packets of {jpeg_kb} KB{with_mask} from {nodes} cameras, QoS 1, private "
        "Mosquitto (project config); uploader: SQLite WAL + local store"
    )
    click.echo(raw_run.line())
    click.echo(up.line() + "  (MB/s: JPEG bytes stored in shards)")
    click.echo(
        f"uploader / raw subscriber: {up.fps / raw_run.fps:.2f}; "
        f"zero loss: {up.frames} of {frames} frames read back"
    )
