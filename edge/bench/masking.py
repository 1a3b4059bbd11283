"""``dancebooth bench masking``: clean-plate differencing (edge.masking) on the synthetic
booth — IoU against the renderer's exact person coverage, CPU per frame — and the clean
plate's JPEG size and chunk count on the wire (protocol.plates)."""

from __future__ import annotations

import time

import click
import cv2
import numpy as np

from edge.masking import mask_from_plate
from edge.synthetic.renderer import Renderer
from edge.synthetic.visitor import make_visitor
from protocol.plates import CHUNK_BYTES
from protocol.skeleton import NUM_KEYPOINTS


def _size(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(w), int(h)


def _measure(width: int, height: int, visitors: int, frames: int, quality: int) -> None:
    ious: list[float] = []
    cpu = 0.0
    plate_bytes = 0
    for seed in range(visitors):
        visitor = make_visitor(seed)
        renderer = Renderer(width, height, visitor.appearance, visitor.shape)
        posed = visitor.posed(30, 15.0)
        seen = visitor.observed(width, height, 30, 15.0)
        _, plate_jpeg = cv2.imencode(".jpg", renderer.plate, [cv2.IMWRITE_JPEG_QUALITY, 92])
        plate_bytes = len(plate_jpeg)
        for i in np.linspace(0, len(seen) - 1, frames).astype(int):
            image = renderer.render(posed, int(i))
            shadowed = renderer.plate.copy()
            renderer._shadow(shadowed, posed.joints[i])
            truth = (image != shadowed).any(axis=2)  # the body's pixels, not its shadow
            _, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            frame = np.asarray(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), np.uint8)
            t0 = time.process_time()
            mask = mask_from_plate(frame, renderer.plate, seen[i, :NUM_KEYPOINTS]) > 0
            cpu += time.process_time() - t0
            ious.append(float((mask & truth).sum() / max(1, (mask | truth).sum())))
    arr = np.array(ious)
    click.echo(
        f"  {width}x{height}: IoU mean {arr.mean():.3f}, median {np.median(arr):.3f}, "
        f"min {arr.min():.3f} over {len(arr)} frames (JPEG q{quality}); "
        f"{1e3 * cpu / len(arr):.1f} ms CPU per frame; plate JPEG q92 {plate_bytes:,} B = "
        f"{-(-plate_bytes // CHUNK_BYTES)} chunk(s)"
    )


@click.command("masking")
@click.option("--size", "sizes", multiple=True, default=["640x480", "1280x720"], show_default=True)
@click.option("--visitors", default=3, show_default=True)
@click.option("--frames", default=8, show_default=True, help="Frames per visitor.")
@click.option("--jpeg-quality", default=80, show_default=True)
def bench_masking(sizes: tuple[str, ...], visitors: int, frames: int, jpeg_quality: int) -> None:
    """Person masks by clean-plate differencing (MoveNet/PoseNet nodes): IoU and CPU."""
    for text in sizes:
        _measure(*_size(text), visitors, frames, jpeg_quality)
