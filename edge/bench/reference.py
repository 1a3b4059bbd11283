"""``dancebooth bench reference``: the time to add a reference dance per minute of 720p
video, next to the raw pose time on the same frames.

The video is made here: a real photo of a person swaying (``edge.pose.samples``) at
1280x720, 30 fps, H.264 with a click track at 120 bpm, so every stage runs as for a
phone video: decode, pose (the backend's ``estimate`` on each frame), follow the dancer,
repair + smooth, quality check, the kept H.264 video, trimmed music + beat, and the
write. Raw pose is the same backend's ``estimate`` alone on the same decoded frames
(decoding not counted). Progress goes to stderr; the figures to stdout.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.console import Console

from common.reference_add import AddOptions
from edge.frames import Frame
from edge.pose import samples

PROGRESS = Console(stderr=True)


def write_source(path: Path, seconds: float, width: int, height: int) -> Path:
    """The benchmark's video: the swaying photo, H.264 + AAC clicks at 120 bpm."""
    import av

    fps, rate = 30, 44100
    n = round(seconds * fps)
    clicks = np.zeros(round(seconds * rate), np.float32)
    burst = np.random.default_rng(0).standard_normal(int(0.02 * rate)).astype(np.float32)
    for beat in np.arange(0.25, seconds, 0.5):
        k = int(beat * rate)
        clicks[k : k + len(burst)] += 0.3 * burst[: len(clicks) - k]
    with av.open(str(path), "w", format="mp4") as out:
        video: Any = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio: Any = out.add_stream("aac", rate=rate)
        for start in range(0, n, 60):  # a few frames at a time: 720p frames are big
            for img in samples.swaying(min(60, n - start), width, height):
                out.mux(video.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
        out.mux(video.encode(None))
        step = audio.codec_context.frame_size or 1024
        for k in range(0, len(clicks), step):
            frame = av.AudioFrame.from_ndarray(clicks[None, k : k + step], "flt", "mono")
            frame.sample_rate, frame.pts = rate, k
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))
    return path


def raw_pose_s(video: Path, options: AddOptions) -> tuple[float, float, int]:
    """Seconds (wall, CPU) in the backend's ``estimate`` over the video's frames, and the
    frames."""
    from edge.pose import create_estimator
    from edge.reference_video import frames, plan, probe
    from edge.settings import BlazePoseSettings

    spent, cpu, n = 0.0, 0.0, 0
    with create_estimator(BlazePoseSettings(person_mask=False)) as est:
        for i, (_, image) in enumerate(frames(video, plan(probe(video), options))):
            frame = Frame(seq=i, capture_ns=round(i / 30 * 1e9), image=image)
            t0, c0 = time.perf_counter(), time.process_time()
            est.estimate(frame)
            spent += time.perf_counter() - t0
            cpu += time.process_time() - c0
            n += 1
    return spent, cpu, n


def beat_startup_s() -> float:
    """The one-off cost of the beat tracker in a fresh process (import + first call)."""
    from edge.reference_audio import RATE, estimate_beat

    t0 = time.perf_counter()
    try:
        estimate_beat(np.zeros((2, 4 * RATE), np.float32) + 0.01)
    except ImportError:
        return 0.0
    return time.perf_counter() - t0


def timed_add(
    video: Path, root: Path, stages_cpu: dict[str, float]
) -> tuple[float, dict[str, float], Any]:
    """The whole add, and the seconds spent from each stage's start to the next's."""
    from edge.reference_add import add_reference

    starts: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        starts.setdefault(stage, time.perf_counter())
        if total and done % 60 == 0:
            PROGRESS.print(f"  {stage} {done}/{total}", end="\r")

    t0, c0 = time.perf_counter(), time.process_time()
    result = add_reference(video, "bench", AddOptions(root=root, force=True), progress)
    total = time.perf_counter() - t0
    stages_cpu["all"] = time.process_time() - c0
    marks = sorted(starts.items(), key=lambda kv: kv[1])
    ends = [m[1] for m in marks[1:]] + [t0 + total]
    stages = {name: end - start for (name, start), end in zip(marks, ends, strict=True)}
    return total, stages, result.report


@click.command("reference")
@click.option("--seconds", default=20.0, show_default=True, help="Length of the test video.")
@click.option("--size", default="1280x720", show_default=True, help="WIDTHxHEIGHT.")
def bench_reference(seconds: float, size: str) -> None:
    """Reference add time per minute of 720p video, next to the raw pose time."""
    width, height = (int(v) for v in size.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        video = write_source(Path(tmp) / "source.mp4", seconds, width, height)
        load0 = os.getloadavg()[0]
        PROGRESS.print("librosa start-up ...")
        startup = beat_startup_s()
        PROGRESS.print("raw pose ...")
        raw, raw_cpu, frames = raw_pose_s(video, AddOptions())
        PROGRESS.print("reference add ...")
        cpu: dict[str, float] = {}
        total, stages, report = timed_add(video, Path(tmp) / "dances", cpu)
        load1 = os.getloadavg()[0]
    per_min = 60.0 / seconds
    click.echo(
        f"reference add, BlazePose, {width}x{height} 30 fps H.264 + AAC, {seconds:g} s "
        f"({frames} frames); load average {load0:.1f} before, {load1:.1f} after"
    )
    click.echo(
        f"  add: {total * per_min:.1f} s per minute of video "
        f"({total / frames * 1000:.1f} ms a frame)"
    )
    click.echo(
        f"  raw pose (estimate() only): {raw * per_min:.1f} s per minute "
        f"({raw / frames * 1000:.1f} ms a frame); add / raw = {total / raw:.2f}"
    )
    click.echo(
        f"  CPU time (what other load inflates least): add {cpu['all'] * per_min:.1f} s, "
        f"raw pose {raw_cpu * per_min:.1f} s per minute of video; "
        f"add / raw = {cpu['all'] / raw_cpu:.2f}"
    )
    click.echo(
        "  stages (s per minute of video): "
        + ", ".join(f"{k} {v * per_min:.1f}" for k, v in stages.items())
    )
    click.echo(
        f"  once per process, not per minute: importing librosa for the beat {startup:.1f} s "
        "(wall clock: mostly waiting for the CPU on a loaded machine)"
    )
    click.echo(
        f"  dancer found in {report.dancer_found:.0%} of frames; tempo {report.bpm} bpm "
        "(clicks at 120)"
    )
