"""``dancebooth bench protocol``: how fast the frame-packet codec and shard format run."""

from __future__ import annotations

import io
import time

import click
import numpy as np

from protocol.codec import FramePacket, decode_packet, encode_packet
from protocol.shards import FrameMeta, read_shard, write_shard


def sample_packet(seq: int, jpeg_bytes: int = 40_000, seed: int = 0) -> FramePacket:
    """A realistic-size packet: 40 KB of (incompressible) image bytes and 17 keypoints."""
    rng = np.random.default_rng(seed + seq)
    body = rng.integers(0, 256, jpeg_bytes - 4, dtype=np.uint8).tobytes()
    kps = np.column_stack([rng.uniform(0, 640, 17), rng.uniform(0, 480, 17), rng.uniform(0, 1, 17)])
    return FramePacket(
        session="sbench",
        node="node1",
        seq=seq,
        capture_ns=time.time_ns(),
        width=640,
        height=480,
        keypoints=kps.astype(np.float32),
        jpeg=b"\xff\xd8" + body + b"\xff\xd9",
    )


@click.command("protocol")
@click.option("--packets", default=2000, show_default=True)
@click.option("--jpeg-kb", default=40, show_default=True)
def bench_protocol(packets: int, jpeg_kb: int) -> None:
    """Frame-packet encode/decode and shard write/read throughput."""
    src = [sample_packet(i, jpeg_kb * 1000) for i in range(packets)]
    t0 = time.perf_counter()
    wire = [encode_packet(p) for p in src]
    t1 = time.perf_counter()
    decoded = [decode_packet(w) for w in wire]
    t2 = time.perf_counter()
    buf = io.BytesIO()
    write_shard(buf, ((FrameMeta.from_packet(p), p.jpeg) for p in decoded))
    t3 = time.perf_counter()
    n_read = sum(1 for _ in read_shard(buf.getvalue()))
    t4 = time.perf_counter()
    assert n_read == packets
    mb = sum(map(len, wire)) / 1e6
    for name, dt in (
        ("encode", t1 - t0),
        ("decode", t2 - t1),
        ("shard write", t3 - t2),
        ("shard read", t4 - t3),
    ):
        click.echo(f"{name:12s} {packets / dt:10.0f} packets/s {mb / dt:8.0f} MB/s")
