"""``dancebooth bench edge ...``: the node's benchmarks."""

from __future__ import annotations

import click

from dancebooth.lazy import LazyGroup

EDGE_BENCHMARKS: dict[str, tuple[str, str]] = {
    "pose": ("edge.pose.bench:bench_pose", "Pose fps per backend next to raw invoke time."),
    "capture": ("edge.capture_bench:bench_capture", "Capture -> spool fps with JPEG encoding."),
    "node": ("edge.node_bench:bench_node", "A node end to end: camera -> broker latency."),
    "smoothing": ("edge.smoothing_bench:bench_smoothing", "Repair/smoothing accuracy and cost."),
}


@click.group(cls=LazyGroup, lazy=EDGE_BENCHMARKS)
def bench_edge() -> None:
    """Benchmarks of the edge node."""
