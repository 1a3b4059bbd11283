"""``dancebooth bench ...``: each benchmark prints the machine, then its figures."""

from __future__ import annotations

import click

from dancebooth.lazy import LazyGroup
from dancebooth.machine import describe_machine

BENCHMARKS: dict[str, tuple[str, str]] = {
    "protocol": ("protocol.bench:bench_protocol", "Frame-packet encode/decode throughput."),
    "edge": ("edge.bench:bench_edge", "Edge node: pose, capture, smoothing."),
    "synth": ("edge.synthetic.bench:bench_synth", "Synthetic dancer render fps and clip time."),
    "ingest": ("cloud.ingest_bench:bench_ingest", "Uploader throughput vs a raw subscriber."),
    "render": ("cloud.render.bench:bench_render", "Rendered frames/s incl. encoding, 128/256 px."),
    "train": ("cloud.training.bench:bench_train", "Training throughput and time-to-quality."),
    "api": ("cloud.api.bench:bench_api", "API under load: SSE clients + requests/s on PostgreSQL."),
    "retention": ("cloud.retention_bench:bench_retention", "Retention sweep and visitor deletion."),
}


@click.group(cls=LazyGroup, lazy=BENCHMARKS)
def bench() -> None:
    """Benchmarks that print figures and the machine they ran on."""
    click.echo(describe_machine())
