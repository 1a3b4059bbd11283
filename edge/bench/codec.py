"""``dancebooth bench protocol``: how fast the frame-packet codec and shard format run,
and what the person mask costs a packet (bytes on the wire, PNG encode/decode time),
measured on the synthetic booth's rendered frames and exact masks at 640x480.
"""

from __future__ import annotations

import io
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import click
import numpy as np

from edge.frames import Frame
from protocol.codec import FramePacket, decode_packet, encode_packet
from protocol.masks import decode_mask, encode_mask
from protocol.shards import FrameMeta, read_shard, write_shard

T = TypeVar("T")


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


def _ms(fn: Callable[[T], object], items: Sequence[T], repeats: int = 3) -> float:
    """Best-of-``repeats`` mean milliseconds per item of ``fn(item)``."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, (time.perf_counter() - t0) / len(items))
    return best * 1e3


def _mask_packet(frame: Frame, jpeg: bytes, mask: bytes | None) -> FramePacket:
    assert frame.truth is not None
    return FramePacket(
        "sbench", "node1", frame.seq, frame.capture_ns, frame.width, frame.height,
        frame.truth, jpeg, mask=mask,
    )  # fmt: skip


def bench_masks(frames: int, width: int, height: int, jpeg_quality: int) -> None:
    """Packet bytes with and without the person mask, and the mask's PNG cost, on the
    synthetic booth's frames (a visitor dancing) and the renderer's exact masks."""
    import cv2

    from edge.synthetic.visitor import make_visitor

    rendered = list(make_visitor(0).frames(width, height, 30.0, frames / 30.0, masks=True))
    masks = [f.truth_mask for f in rendered if f.truth_mask is not None]
    pngs = [encode_mask(m) for m in masks]
    without, with_mask = [], []
    for f, png in zip(rendered, pngs, strict=True):
        ok, buf = cv2.imencode(".jpg", f.image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        assert ok
        without.append(len(encode_packet(_mask_packet(f, buf.tobytes(), None))))
        with_mask.append(len(encode_packet(_mask_packet(f, buf.tobytes(), png))))
    plain, masked = statistics.median(without), statistics.median(with_mask)
    png_b = [len(b) for b in pngs]
    h, w = masks[0].shape
    click.echo(
        f"person mask  {len(rendered)} synthetic frames {width}x{height}, JPEG q{jpeg_quality}, "
        f"mask {w}x{h} PNG"
    )
    click.echo(
        f"  packet bytes   median {plain:,.0f} without mask, {masked:,.0f} with "
        f"({100 * (masked / plain - 1):+.1f} %); mask PNG median {statistics.median(png_b):,.0f} "
        f"B, max {max(png_b):,} B (raw {w * h:,} B)"
    )
    enc, dec = _ms(encode_mask, masks), _ms(decode_mask, pngs)
    click.echo(f"  mask PNG       encode {enc:.3f} ms/frame, decode {dec:.3f} ms/frame")
    tiny = b"\xff\xd8\xff\xd9"  # so the packet decode time is the mask's and the header's
    wire = [encode_packet(_mask_packet(f, tiny, b)) for f, b in zip(rendered, pngs, strict=True)]
    bare = [encode_packet(_mask_packet(f, tiny, None)) for f in rendered]
    click.echo(
        f"  packet decode  {_ms(decode_packet, wire):.3f} ms/frame with a mask (checked), "
        f"{_ms(decode_packet, bare):.3f} without"
    )


@click.command("protocol")
@click.option("--packets", default=2000, show_default=True)
@click.option("--jpeg-kb", default=40, show_default=True)
@click.option(
    "--mask-frames",
    default=150,
    show_default=True,
    help="Synthetic frames for the person-mask figures (0: skip them).",
)
def bench_protocol(packets: int, jpeg_kb: int, mask_frames: int) -> None:
    """Frame-packet encode/decode and shard write/read throughput; the person mask's cost."""
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
    if mask_frames > 0:
        bench_masks(mask_frames, 640, 480, 80)
    if hasattr(os, "getloadavg"):
        click.echo("load average at the end: " + " ".join(f"{v:.1f}" for v in os.getloadavg()))
