"""``dancebooth bench edge ...``: the node's benchmarks."""

from __future__ import annotations

import click

from common.lazy import LazyGroup

EDGE_BENCHMARKS: dict[str, tuple[str, str]] = {
    "pose": ("edge.bench.pose:bench_pose", "Pose fps per backend next to raw invoke time."),
    "capture": ("edge.bench.capture:bench_capture", "Capture -> spool fps with JPEG encoding."),
    "node": ("edge.bench.node:bench_node", "A node end to end: camera -> broker latency."),
    "smoothing": ("edge.bench.smoothing:bench_smoothing", "Repair/smoothing accuracy and cost."),
}


@click.group(cls=LazyGroup, lazy=EDGE_BENCHMARKS)
def bench_edge() -> None:
    """Benchmarks of the edge node."""
