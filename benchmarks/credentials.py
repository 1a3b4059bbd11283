"""``dancebooth bench credentials``: what signing a rendition's C2PA manifest costs next to
rendering it (goal: signing <= 5 % of the render time at 128 px).

The rendition is the bench's 128 px one (pose painter, pose maps, H.264 encoding, as
``bench render``) and, with ``--camera``, the camera-resolution one the booth delivers
(a bigger file: the BMFF hash reads every byte). Signing is timed as the pipeline runs
it: load and check the identity, build the manifest, sign into a new file.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import click

from benchmarks.render import bench_dance, bench_plate, bench_stage
from cloud.render.credentials import (
    RenditionFacts,
    check_identity,
    make_demo_identity,
    read_credentials,
    sign_rendition,
)
from cloud.render.generator import PosePainter
from cloud.render.renderer import render
from cloud.render.video import RenditionTags


@click.command("credentials")
@click.option("--frames", default=375, show_default=True, help="Frames (15 s at 25 fps).")
@click.option("--repeat", default=5, show_default=True, help="Signings timed per video.")
@click.option("--camera", default="1280x720", show_default=True, help="Also at this size; none.")
def bench_credentials(frames: int, repeat: int, camera: str) -> None:
    """Signing time vs render time, per rendition size."""
    fps, size = 25.0, 128
    click.echo(f"{frames} frames, libx264 veryfast crf 23; signing timed {repeat} times (median)")
    click.echo(
        f"{'video':>10} {'MB':>6} {'render s':>9} {'sign s':>8} {'verify s':>9} {'sign/render':>12}"
    )
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cert, key = make_demo_identity(tmp / "ca", "booth1")
        g = PosePainter(size)
        dance = bench_dance(frames, size, fps)
        tags = RenditionTags("bench", g.model_version)
        render(g, bench_dance(16, size), tmp / "warm.mp4", fps=fps, tags=tags)
        cases: list[tuple[str, dict[str, object]]] = [
            ("128", {"background": bench_plate(size, size)})
        ]
        if camera.lower() != "none":
            w, h = (int(v) for v in camera.lower().split("x"))
            cases.append((camera, {"stage": bench_stage(g, w, h)}))
        for label, extra in cases:
            video = tmp / f"{label}.mp4"
            start = time.perf_counter()
            result = render(g, dance, video, fps=fps, tags=tags, batch_size=16, **extra)  # type: ignore[arg-type]
            render_s = time.perf_counter() - start
            signs, verifies = [], []
            for i in range(repeat):
                start = time.perf_counter()
                identity = check_identity(cert, key)
                sign_rendition(
                    video,
                    tmp / f"signed{i}.mp4",
                    identity,
                    RenditionFacts("booth1", "bench", g.model_version),
                )
                signs.append(time.perf_counter() - start)
                start = time.perf_counter()
                assert read_credentials(tmp / f"signed{i}.mp4").state == "valid"
                verifies.append(time.perf_counter() - start)
            sign_s, verify_s = statistics.median(signs), statistics.median(verifies)
            mb = os.path.getsize(video) / 1e6
            click.echo(
                f"{result.width}x{result.height:<4} {mb:>6.2f} {render_s:>9.2f} {sign_s:>8.3f} "
                f"{verify_s:>9.3f} {100 * sign_s / render_s:>11.2f}%"
            )
    if hasattr(os, "getloadavg"):
        click.echo(f"load average after: {os.getloadavg()[0]:.1f}")
    click.echo("goal: signing <= 5 % of the render time at 128 px")
