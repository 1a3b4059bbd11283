"""``dancebooth demo``: run the booth's parts together on this machine.

The booth is built part by part; this command runs every part that exists so far,
end to end, with the embedded defaults (no services needed).
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import click

from protocol.bench import sample_packet
from protocol.codec import decode_packet, encode_packet
from protocol.shards import FrameMeta, read_shard, write_shard

logger = logging.getLogger(__name__)


@click.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to leave the demo's files (default: a temporary folder).",
)
@click.option("--once", is_flag=True, help="Exit when done (for CI).")
def demo(out: Path | None, once: bool) -> None:
    """Run the whole booth on this machine with the embedded defaults."""
    out = out or Path(tempfile.mkdtemp(prefix="dancebooth-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    click.echo("[1/2] protocol: 15 s x 30 fps of frame packets through the wire codec")
    wire = [encode_packet(sample_packet(seq, 20_000)) for seq in range(450)]
    packets = [decode_packet(w) for w in wire]
    click.echo(f"      {len(wire)} packets, {sum(map(len, wire)) / 1e6:.1f} MB, all round-tripped")
    shard = out / "demo-node1-000000.tar"
    click.echo(f"[2/2] shards: writing {shard}")
    write_shard(shard, ((FrameMeta.from_packet(p), p.jpeg) for p in packets))
    n = sum(1 for _ in read_shard(shard))
    click.echo(f"      {n} frames read back at {time.strftime('%H:%M:%S')}")
    click.echo(f"done: demo files in {out}")
