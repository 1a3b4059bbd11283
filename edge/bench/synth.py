"""``dancebooth bench synth``: how fast the synthetic booth renders dancers, with and
without the exact person mask."""

from __future__ import annotations

import time

import click
import cv2

from edge.synthetic.noise import NoiseModel
from edge.synthetic.visitor import make_visitor


def _render_times(resolution: int, frames: int, seed: int) -> tuple[float, float, float]:
    """Frames/s of ``render`` (wall clock), and CPU ms per frame of ``render`` and of
    ``render_with_mask`` (the exact person mask as well), interleaved in three rounds so
    machine load hits both alike. Rendering alone: the dance is posed first (FK is
    shared by every resolution)."""
    from edge.synthetic.renderer import Renderer

    v = make_visitor(seed)
    fps = 30.0
    posed = v.posed(fps, frames / fps)
    renderer = Renderer(resolution, resolution, v.appearance, v.shape)
    renderer.render(posed, 0)  # builds the background plate outside the timing
    spent = {"image": 0.0, "mask": 0.0}
    wall = 0.0
    for _ in range(3):
        for name, fn in (("image", renderer.render), ("mask", renderer.render_with_mask)):
            t0, c0 = time.perf_counter(), time.process_time()
            for i in range(frames):
                fn(posed, i)
            spent[name] += time.process_time() - c0
            if name == "image":
                wall += time.perf_counter() - t0
    n = 3 * frames
    return n / wall, spent["image"] / n * 1e3, spent["mask"] / n * 1e3


@click.command("synth")
@click.option("--frames", default=450, show_default=True, help="Frames per render measurement.")
@click.option("--seed", default=0, show_default=True)
def bench_synth(frames: int, seed: int) -> None:
    """Render fps at 128/256/512 (CPU time; with the person mask too) and a whole 15 s,
    30 fps, 256x256 clip end to end."""
    for res in (128, 256, 512):
        fps, image, mask = _render_times(res, frames, seed)
        click.echo(
            f"render {res:3d}x{res:<3d}      {fps:8.0f} frames/s; CPU {image:.2f} ms/frame, "
            f"with the person mask {mask:.2f} ms ({100 * (mask / image - 1):+.0f} %)"
        )
    # End to end: choreography, kinematics, visibility, rendering (fresh visitor, cold plate).
    t0 = time.perf_counter()
    v = make_visitor(seed + 1)
    n = sum(1 for _ in v.frames(256, 256, 30, 15))
    clip = time.perf_counter() - t0
    click.echo(f"clip 15 s @30 fps 256x256: {clip:6.2f} s for {n} frames ({n / clip:.0f} frames/s)")
    t0 = time.perf_counter()
    jpeg = 0
    for f in make_visitor(seed + 2).frames(256, 256, 30, 15):
        jpeg += len(cv2.imencode(".jpg", f.image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1])
    enc = time.perf_counter() - t0
    click.echo(f"clip + JPEG q90 (corpus):  {enc:6.2f} s, {jpeg / n / 1000:.1f} KB/frame")
    truth = v.keypoints(256, 256, 30, 15)
    stream = NoiseModel().stream(seed)
    t0 = time.perf_counter()
    for frame in truth:
        stream(frame)
    rate = len(truth) / (time.perf_counter() - t0)
    click.echo(f"noise stream (replay):     {rate:8.0f} frames/s")
