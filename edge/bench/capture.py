"""``dancebooth bench edge capture``: capture → spool fps with JPEG encoding, while pose runs.

Two runs over the same pre-rendered 640×480 frames of the synthetic dancer, each
with the annotator estimating pose (and repairing/smoothing) from the spool at the
same time, exactly as on a node:

* **throughput**: a source that is not live, so capture waits for the spool and
  the figure is the most frames per second the capture → JPEG → SQLite path takes;
* **live**: a source paced at ``--fps`` (a camera), where a full ring would drop
  frames: the figure is how many were dropped (goal: 0 at 120 fps).

Pre-rendering keeps the dancer's rendering cost out of the figures.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from pydantic import TypeAdapter
from rich.progress import Progress

from edge.annotator import Annotator
from edge.capture import CaptureResult, CaptureRun
from edge.frames import Frame
from edge.keypoints import smoothing_stages
from edge.pose import create_estimator
from edge.pose.base import PoseError, PoseEstimator
from edge.settings import PoseSettings, SmoothingSettings
from edge.sources.base import FrameSource, Pacer
from edge.spool import Spool
from edge.synthetic.visitor import make_visitor


class PrerenderedSource(FrameSource):
    """Frames rendered beforehand, played in a loop; live (paced) or as fast as asked."""

    name = "prerendered"

    def __init__(self, frames: list[Frame], fps: float, live: bool) -> None:
        super().__init__(frames[0].width, frames[0].height, fps)
        self.frames, self.live = frames, live
        self._pacer = Pacer(fps, live)
        self._i = 0

    def open(self) -> None:
        pass

    def read(self) -> Frame | None:
        src = self.frames[self._i % len(self.frames)]
        frame = Frame(self._i, self._pacer.stamp(self._i), src.image, src.truth, src.truth_extras)
        self._i += 1
        return self._delivered(frame)


def render_frames(count: int, width: int, height: int, fps: float) -> list[Frame]:
    """``count`` frames of the synthetic dancer (with ground truth, for ``replay``)."""
    return list(make_visitor(0).frames(width, height, fps, count / fps))[:count]


@dataclass
class RunFigures:
    result: CaptureResult
    seconds: float
    posed: int
    jpeg_kb: float


def _run(
    frames: list[Frame],
    fps: float,
    seconds: float,
    live: bool,
    pose: PoseEstimator | None,
    ring: int,
    quality: int,
    progress: Progress,
    label: str,
) -> RunFigures:
    with tempfile.TemporaryDirectory(prefix="dancebooth-bench-") as tmp:
        spool = Spool(Path(tmp), max_mb=8192)
        annotator = None
        if pose is not None:
            annotator = Annotator(
                spool, pose, smoothing_stages(SmoothingSettings()), "bench", cache_frames=ring
            )
            annotator.start()
        run = CaptureRun(
            PrerenderedSource(frames, fps, live),
            spool,
            f"bench-{label}",
            duration_s=seconds,
            ring_frames=ring,
            jpeg_quality=quality,
            on_spooled=annotator.offer if annotator is not None else None,
        )
        total = round(seconds * fps)
        task = progress.add_task(label, total=total)
        start = time.perf_counter()
        run.start()
        result = None
        while result is None:
            result = run.wait(0.2)
            progress.update(task, completed=run.counters.captured)
        elapsed = time.perf_counter() - start
        posed = annotator.counters.annotated if annotator is not None else 0
        if annotator is not None:
            annotator.stop()
        spool.close()
    jpeg_kb = run.encoder.bytes_out / max(1, run.encoder.count) / 1024
    return RunFigures(result, elapsed, posed, jpeg_kb)


def _pose(name: str) -> PoseEstimator | None:
    if name == "none":
        return None
    try:
        settings: Any = TypeAdapter(PoseSettings).validate_python({"type": name})
        return create_estimator(settings)
    except (PoseError, ValueError) as exc:
        raise click.ClickException(f"pose backend {name!r}: {exc}") from None


@click.command("capture")
@click.option("--fps", default=120.0, show_default=True, help="Rate of the live (paced) run.")
@click.option("--seconds", default=10.0, show_default=True, help="Length of each run.")
@click.option("--width", default=640, show_default=True)
@click.option("--height", default=480, show_default=True)
@click.option("--quality", default=80, show_default=True, help="JPEG quality.")
@click.option("--ring", default=64, show_default=True, help="Ring capacity in frames.")
@click.option(
    "--pose",
    "pose_name",
    default="replay",
    show_default=True,
    help="Pose backend running meanwhile (replay, blazepose, ..., or none).",
)
def bench_capture(
    fps: float, seconds: float, width: int, height: int, quality: int, ring: int, pose_name: str
) -> None:
    """Capture -> spool fps with JPEG encoding, and frames dropped at --fps, while pose runs."""
    pose = _pose(pose_name)
    frames = render_frames(120, width, height, fps)
    click.echo(
        f"scene: synthetic dancer (seed 0), {width}x{height}, JPEG q{quality}, "
        f"ring {ring}, pose: {pose_name}"
    )
    with Progress(transient=True) as progress:
        fast = _run(frames, fps, seconds, False, pose, ring, quality, progress, "throughput")
        live = _run(frames, fps, seconds, True, pose, ring, quality, progress, "live")
    f, lv = fast.result, live.result
    click.echo(
        f"throughput: {f.seq_count} frames spooled in {fast.seconds:.2f} s = "
        f"{f.seq_count / fast.seconds:.1f} fps (JPEG {fast.jpeg_kb:.1f} KB), "
        f"pose meanwhile {fast.posed / fast.seconds:.1f} fps, dropped {len(f.dropped)}"
    )
    click.echo(
        f"live @ {fps:g} fps: {lv.seq_count} frames in {live.seconds:.2f} s wall = "
        f"{lv.seq_count / live.seconds:.1f} fps, dropped {len(lv.dropped)}, "
        f"pose meanwhile {live.posed / live.seconds:.1f} fps "
        f"(the spool holds the rest until pose catches up)"
    )
    goal = "met" if f.seq_count / fast.seconds >= 120 and not lv.dropped else "NOT met"
    click.echo(f"goal (>= 120 fps capture->spool, 0 dropped while pose runs): {goal}")
