"""``dancebooth bench render``: rendered frames per second, encoding included.

Each generator runs twice per size: the video at the generator's resolution (the old
delivery), and at the camera's resolution (``--camera``, 1280x720 by default): its
square crop upscaled into the frame and composited over a plate by a
:class:`~cloud.render.composite.Stage`, what a visitor now gets.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click
import numpy as np
import numpy.typing as npt

from cloud.render.composite import Backdrop, Stage
from cloud.render.generator import Generator, PosePainter
from cloud.render.renderer import render
from cloud.render.video import RenditionTags, VideoEncoder
from cloud.training.framing import Framing
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


def bench_plate(width: int, height: int) -> npt.NDArray[np.uint8]:
    """A booth-like plate: a lit wall over a darker floor, with some texture."""
    rng = np.random.default_rng(0)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    wall = 150 + 40 * x - 30 * y + np.zeros((1, 1, 3), np.float32)
    wall[int(0.8 * height) :] *= 0.6
    noise = rng.normal(0, 4, (height, width, 3)).astype(np.float32)
    return np.clip(wall + noise, 0, 255).astype(np.uint8)


def bench_stage(g: Generator, width: int, height: int) -> Stage:
    """The camera frame a ``g``-sized crop goes into: a square of the frame's height, centred."""
    framing = Framing((width - height) // 2, 0, height)
    return Stage(Backdrop(bench_plate(width, height), "plate"), framing, g.resolution)


def _split_timing(
    g: Generator,
    dance: npt.NDArray[np.float32],
    fps: float,
    batch: int,
    tmp: Path,
    stage: Stage | None,
) -> tuple[float, float | None, float]:
    """Frames/s of pose maps + generator alone, of placing them on the stage (camera
    rows), and of encoding the resulting frames alone."""
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
    place_fps = None
    if stage is not None:
        start = time.perf_counter()
        frames = [stage.place_one(f) for f in frames]
        place_fps = len(frames) / (time.perf_counter() - start)
    elif g.dancer_only:
        frames = [f[:, :, :3] for f in frames]
    h, w = frames[0].shape[:2]
    start = time.perf_counter()
    with VideoEncoder(tmp / "encode-only.mp4", w, h, fps, RenditionTags("b", "b")) as enc:
        for f in frames:
            enc.write(np.ascontiguousarray(f))
    return gen_fps, place_fps, len(frames) / (time.perf_counter() - start)


def _generator(name: str, size: int, checkpoint: Path | None) -> Generator:
    if name.startswith("painter"):
        return PosePainter(
            size, temporal=name.endswith("temporal"), dancer_only=name.endswith("alpha")
        )
    # The visitor's network: a checkpoint if given (its resolution wins), else the
    # default architecture with fresh weights, which costs exactly the same to run.
    from cloud.render.torch_generator import TorchGenerator
    from cloud.training.config import Pix2PixConfig
    from cloud.training.model import Pix2Pix

    if checkpoint is not None:
        return TorchGenerator.from_checkpoint(checkpoint)
    alpha = name.endswith("alpha")
    if alpha and "dancer_only" not in Pix2PixConfig.model_fields:
        raise click.UsageError("this build's pix2pix has no dancer-only mode")
    extra = {"dancer_only": True} if alpha else {}
    cfg = Pix2PixConfig(resolution=size, temporal=name.endswith("temporal"), **extra)
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
    type=click.Choice(
        [
            "painter",
            "painter-temporal",
            "painter-alpha",
            "pix2pix",
            "pix2pix-temporal",
            "pix2pix-alpha",
        ]
    ),
)
@click.option(
    "--camera",
    default="1280x720",
    show_default=True,
    help="Camera resolution of the composited rows (WIDTHxHEIGHT; 'none' skips them).",
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
    camera: str,
) -> None:
    """Rendered frames/s including pose maps, generator, compositing and H.264 encoding."""
    fps = 25.0
    cam = None if camera.lower() == "none" else tuple(int(v) for v in camera.lower().split("x"))
    click.echo(f"{frames} frames per run, batch {batch_size}, libx264 veryfast crf 23")
    click.echo(
        f"{'generator':<28} {'size':>5} {'video':>9} {'render fps':>11} {'15 s clip in':>13} "
        f"{'generate fps':>13} {'place fps':>10} {'encode fps':>11} {'warm-up s':>10}"
    )
    clip = 15 * fps
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        warm = PosePainter(128)
        render(warm, bench_dance(16, 128), tmp / "warm.mp4", fps=fps, tags=RenditionTags("b", "b"))
        for size in sizes:
            dance = bench_dance(frames, size, fps)
            done: set[tuple[str, bool]] = set()
            for name in names:
                g = _generator(name, size, checkpoint)
                key = (g.model_version, g.dancer_only)
                if g.resolution != size or key in done:
                    continue  # a checkpoint has one resolution and decides temporal itself
                done.add(key)
                tags = RenditionTags("bench", g.model_version)
                # First call pays one-off costs (oneDNN kernel selection): timed apart.
                start = time.perf_counter()
                warm_maps = np.stack([pose_map(k, size, size) for k in dance[:batch_size]])
                g.generate(warm_maps, None)
                warm_s = time.perf_counter() - start
                stages: list[Stage | None] = [None]
                if cam is not None:
                    stages.append(bench_stage(g, cam[0], cam[1]))
                for stage in stages:
                    result = render(
                        g,
                        dance,
                        tmp / f"{name}{size}.mp4",
                        fps=fps,
                        tags=tags,
                        batch_size=batch_size,
                        background=bench_plate(size, size) if stage is None else None,
                        stage=stage,
                    )
                    fresh = None if stage is None else bench_stage(g, *stage.size)
                    gen_fps, place_fps, enc_fps = _split_timing(
                        g, dance, fps, batch_size, tmp, fresh
                    )
                    video = f"{result.width}x{result.height}"
                    placed = f"{place_fps:>10.1f}" if place_fps is not None else f"{'-':>10}"
                    label = g.model_version + ("-alpha" if g.dancer_only else "")
                    click.echo(
                        f"{label:<28} {size:>5} {video:>9} {result.fps:>11.1f} "
                        f"{clip / result.fps:>11.1f} s {gen_fps:>13.1f} {placed} "
                        f"{enc_fps:>11.1f} {warm_s:>10.2f}"
                    )
    click.echo("goal: >= 30 fps at 128 px (a 15 s clip renders in under 15 s)")
