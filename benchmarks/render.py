"""``dancebooth bench render``: rendered frames per second, encoding included."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click
import numpy as np
import numpy.typing as npt

from cloud.render.generator import Generator, PosePainter
from cloud.render.renderer import render
from cloud.render.video import RenditionTags, VideoEncoder
from common.posemap import pose_map
from protocol.skeleton import KP

# A standing pose as (dx, dy) fractions of body height from the ankle midpoint.
_POSE = {
    "nose": (0.0, -0.93),
    "left_eye": (0.02, -0.95),
    "right_eye": (-0.02, -0.95),
    "left_ear": (0.05, -0.94),
    "right_ear": (-0.05, -0.94),
    "left_shoulder": (0.12, -0.80),
    "right_shoulder": (-0.12, -0.80),
    "left_elbow": (0.17, -0.62),
    "right_elbow": (-0.17, -0.62),
    "left_wrist": (0.19, -0.46),
    "right_wrist": (-0.19, -0.46),
    "left_hip": (0.08, -0.50),
    "right_hip": (-0.08, -0.50),
    "left_knee": (0.09, -0.26),
    "right_knee": (-0.09, -0.26),
    "left_ankle": (0.09, 0.0),
    "right_ankle": (-0.09, 0.0),
}


def bench_dance(frames: int, size: int, fps: float = 25.0) -> npt.NDArray[np.float32]:
    """A ``[T, 17, 3]`` sway-and-wave dance filling a ``size`` square (benchmark input)."""
    t = np.arange(frames, dtype=np.float32) / fps
    height = 0.75 * size
    x = size / 2 + 0.15 * size * np.sin(2 * np.pi * t / 4)
    y = 0.9 * size - 0.03 * size * np.abs(np.sin(2 * np.pi * t))  # a bounce on each beat
    out = np.zeros((frames, 17, 3), np.float32)
    for name, (dx, dy) in _POSE.items():
        out[:, KP[name], 0] = x + dx * height
        out[:, KP[name], 1] = y + dy * height
        out[:, KP[name], 2] = 1.0
    for side, phase in (("left", 0.0), ("right", np.pi)):
        wave = np.sin(2 * np.pi * t + phase)
        out[:, KP[f"{side}_wrist"], 1] -= 0.35 * height * (0.5 + 0.5 * wave)
        out[:, KP[f"{side}_elbow"], 1] -= 0.15 * height * (0.5 + 0.5 * wave)
    return out


def _split_timing(
    g: Generator, dance: npt.NDArray[np.float32], fps: float, batch: int, tmp: Path
) -> tuple[float, float]:
    """Frames/s of pose maps + generator alone, and of encoding those frames alone."""
    res = g.resolution
    frames: list[npt.NDArray[np.uint8]] = []
    start = time.perf_counter()
    previous = None
    for first in range(0, len(dance), batch):
        maps = np.stack([pose_map(k, res, res) for k in dance[first : first + batch]])
        out = g.generate(maps, previous if g.temporal else None)
        frames.extend(out)
        previous = out[-1]
    gen_fps = len(frames) / (time.perf_counter() - start)
    start = time.perf_counter()
    with VideoEncoder(tmp / "encode-only.mp4", res, res, fps, RenditionTags("b", "b")) as enc:
        for f in frames:
            enc.write(f)
    return gen_fps, len(frames) / (time.perf_counter() - start)


def _generator(name: str, size: int, checkpoint: Path | None) -> Generator:
    if name.startswith("painter"):
        return PosePainter(size, temporal=name.endswith("temporal"))
    # The visitor's network: a checkpoint if given (its resolution wins), else the
    # default architecture with fresh weights, which costs exactly the same to run.
    from cloud.render.torch_generator import TorchGenerator
    from cloud.training.config import Pix2PixConfig
    from cloud.training.model import Pix2Pix

    if checkpoint is not None:
        return TorchGenerator.from_checkpoint(checkpoint)
    cfg = Pix2PixConfig(resolution=size, temporal=name.endswith("temporal"))
    version = f"pix2pix-{size}{'-t' if cfg.temporal else ''}-untrained"
    return TorchGenerator(Pix2Pix.from_config(cfg), model_version=version)


@click.command("render")
@click.option("--frames", default=375, show_default=True, help="Frames per run (15 s at 25 fps).")
@click.option("--size", "sizes", multiple=True, type=int, default=(128, 256), show_default=True)
@click.option("--batch-size", default=16, show_default=True)
@click.option(
    "--generator",
    "names",
    multiple=True,
    default=("painter",),
    show_default=True,
    type=click.Choice(["painter", "painter-temporal", "pix2pix", "pix2pix-temporal"]),
)
@click.option(
    "--checkpoint",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A fine-tuned checkpoint for the pix2pix rows (default: fresh weights, same cost).",
)
def bench_render(
    frames: int,
    sizes: tuple[int, ...],
    batch_size: int,
    names: tuple[str, ...],
    checkpoint: Path | None,
) -> None:
    """Rendered frames/s including pose maps, generator and H.264 encoding."""
    fps = 25.0
    click.echo(f"{frames} frames per run, batch {batch_size}, libx264 veryfast crf 23")
    click.echo(
        f"{'generator':<28} {'size':>5} {'render fps':>11} {'15 s clip in':>13} "
        f"{'generate fps':>13} {'encode fps':>11} {'warm-up s':>10}"
    )
    clip = 15 * fps
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        warm = PosePainter(128)
        render(warm, bench_dance(16, 128), tmp / "warm.mp4", fps=fps, tags=RenditionTags("b", "b"))
        for size in sizes:
            dance = bench_dance(frames, size, fps)
            done: set[str] = set()
            for name in names:
                g = _generator(name, size, checkpoint)
                if g.resolution != size or g.model_version in done:
                    continue  # a checkpoint has one resolution and decides temporal itself
                done.add(g.model_version)
                tags = RenditionTags("bench", g.model_version)
                # First call pays one-off costs (oneDNN kernel selection): timed apart.
                start = time.perf_counter()
                warm_maps = np.stack([pose_map(k, size, size) for k in dance[:batch_size]])
                g.generate(warm_maps, None)
                warm_s = time.perf_counter() - start
                result = render(
                    g,
                    dance,
                    tmp / f"{name}{size}.mp4",
                    fps=fps,
                    tags=tags,
                    batch_size=batch_size,
                )
                gen_fps, enc_fps = _split_timing(g, dance, fps, batch_size, tmp)
                click.echo(
                    f"{g.model_version:<28} {size:>5} {result.fps:>11.1f} "
                    f"{clip / result.fps:>11.1f} s {gen_fps:>13.1f} {enc_fps:>11.1f} "
                    f"{warm_s:>10.2f}"
                )
    click.echo("goal: >= 30 fps at 128 px (a 15 s clip renders in under 15 s)")
