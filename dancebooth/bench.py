"""``dancebooth bench ...``: each benchmark prints the machine, then its figures."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from common.lazy import LazyGroup
from common.machine import describe_machine

# Benchmarks that need services, a corpus or torch live in the source checkout's top-level
# `benchmarks/` package, which the wheel does not ship: a source checkout (the editable
# install the README's commands make) puts it on the path.
_CHECKOUT = Path(__file__).resolve().parent.parent
if (_CHECKOUT / "benchmarks" / "__init__.py").is_file() and str(_CHECKOUT) not in sys.path:
    sys.path.append(str(_CHECKOUT))

BENCHMARKS: dict[str, tuple[str, str]] = {
    "protocol": ("edge.bench.codec:bench_protocol", "Frame-packet encode/decode throughput."),
    "edge": ("edge.bench:bench_edge", "Edge node: pose, capture, smoothing."),
    "masking": (
        "edge.bench.masking:bench_masking",
        "Clean-plate person masks: IoU vs the synthetic truth, CPU per frame.",
    ),
    "synth": ("edge.bench.synth:bench_synth", "Synthetic dancer render fps and clip time."),
    "reference": (
        "edge.bench.reference:bench_reference",
        "Reference add time per minute of 720p video vs raw pose.",
    ),
    "qa": (
        "benchmarks.capture_qa:bench_qa",
        "Capture QA: scores per kind of synthetic visitor, time per 15 s session (goal <= 1 s).",
    ),
    "ingest": ("benchmarks.ingest:bench_ingest", "Uploader throughput vs a raw subscriber."),
    "render": ("benchmarks.render:bench_render", "Rendered frames/s incl. encoding, 128/256 px."),
    "mirror": (
        "benchmarks.mirror:bench_mirror",
        "Live mirror: delivered fps, keypoints->frame and glass-to-glass latency.",
    ),
    "credentials": (
        "benchmarks.credentials:bench_credentials",
        "C2PA signing time vs render time of a rendition (goal <= 5 % at 128 px).",
    ),
    "gate": (
        "benchmarks.gate:bench_gate",
        "Quality gate: ROC on good and broken renditions, operating point, cost vs render.",
    ),
    "train": ("benchmarks.train:bench_train", "Training throughput and time-to-quality."),
    "api": ("benchmarks.api:bench_api", "API under load: SSE clients + requests/s on PostgreSQL."),
    "retention": ("benchmarks.retention:bench_retention", "Retention sweep and visitor deletion."),
}


@click.group(cls=LazyGroup, lazy=BENCHMARKS)
def bench() -> None:
    """Benchmarks that print figures and the machine they ran on."""
    click.echo(describe_machine())
