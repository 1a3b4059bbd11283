"""The renderer: a normalised reference dance drawn by a Generator into a rendition MP4.

Frames are produced in batches of pose maps, composited over the booth background
when the generator predicts the dancer only (see :mod:`cloud.render.generator` for
the alpha convention), measured for flicker and streamed into the
:class:`~cloud.render.video.VideoEncoder` as they come: memory holds one batch, never
the clip. Temporal generators get the last frame of the previous batch as
``previous``.

Keypoints arrive in capture pixels; :class:`~cloud.training.framing.Framing` is the square crop
of the capture that the generator was trained on, mapping them into generator pixels.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from cloud.render.errors import GeneratorError
from cloud.render.generator import Generator, Images
from cloud.render.mark import quietest_corner
from cloud.render.quality import FlickerMeter, FlickerReport
from cloud.render.video import RenditionTags, VideoEncoder
from common.posemap import pose_map
from protocol.skeleton import NUM_KEYPOINTS

logger = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]  # (frames done, frames total)


@dataclass(frozen=True)
class RenderResult:
    path: Path
    frames: int
    seconds: float
    flicker: FlickerReport

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


def composite(generated: Images, background: Images) -> Images:
    """Alpha-blend ``[B, H, W, 4]`` dancer predictions over a ``[H, W, 3]`` background."""
    alpha = generated[..., 3:4].astype(np.float32) / 255.0
    out = generated[..., :3].astype(np.float32) * alpha + background.astype(np.float32) * (
        1 - alpha
    )
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _check_output(out: object, n: int, generator: Generator) -> Images:
    channels = 4 if generator.dancer_only else 3
    res = generator.resolution
    shape = (n, res, res, channels)
    if not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != np.uint8:
        got = f"{out.shape} {out.dtype}" if isinstance(out, np.ndarray) else type(out).__name__
        raise GeneratorError(
            f"generator {generator.model_version} returned {got}; the interface needs {shape} uint8"
        )
    return out


def render(
    generator: Generator,
    keypoints: npt.ArrayLike,
    out: str | Path,
    *,
    fps: float,
    tags: RenditionTags,
    music: str | Path | None = None,
    background: Images | None = None,
    batch_size: int = 8,
    crf: int = 23,
    preset: str = "veryfast",
    progress: ProgressFn | None = None,
) -> RenderResult:
    """Render ``[T, 17, 3]`` keypoints (generator pixels) to an MP4 at ``out``.

    On any failure the partial file is removed and the error propagates.
    """
    kps = np.asarray(keypoints, dtype=np.float32)
    if kps.ndim != 3 or kps.shape[1:] != (NUM_KEYPOINTS, 3) or len(kps) == 0:
        raise ValueError(f"expected [T, {NUM_KEYPOINTS}, 3] keypoints, got shape {kps.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    res = generator.resolution
    bg = _background(generator, background)
    meter = FlickerMeter()
    previous: Images | None = None
    start = time.perf_counter()
    corner = quietest_corner(kps, res, res)
    with VideoEncoder(
        out, res, res, fps, tags, music=music, crf=crf, preset=preset, mark_corner=corner
    ) as enc:
        for first in range(0, len(kps), batch_size):
            chunk = kps[first : first + batch_size]
            maps = np.stack([pose_map(k, res, res) for k in chunk])
            raw = generator.generate(maps, previous if generator.temporal else None)
            frames = _check_output(raw, len(chunk), generator)
            if bg is not None:
                frames = composite(frames, bg)
            for m, f in zip(maps, frames, strict=True):
                enc.write(f)
                meter.update(m, f)
            previous = frames[-1]
            if progress is not None:
                progress(min(first + batch_size, len(kps)), len(kps))
    result = RenderResult(Path(out), len(kps), time.perf_counter() - start, meter.report())
    logger.info(
        "rendered %d frames in %.1f s (%.1f fps), flicker %.2f",
        result.frames,
        result.seconds,
        result.fps,
        result.flicker.flicker,
    )
    return result


def _background(generator: Generator, background: Images | None) -> Images | None:
    if not generator.dancer_only:
        return None
    res = generator.resolution
    if background is None:
        raise GeneratorError(
            f"generator {generator.model_version} predicts the dancer only; "
            "give the booth background to composite on"
        )
    if background.ndim != 3 or background.shape[2] != 3:
        raise ValueError(f"background must be [H, W, 3] BGR, got {background.shape}")
    if background.shape[:2] != (res, res):
        background = np.asarray(cv2.resize(background, (res, res)), dtype=np.uint8)
    return background


def booth_background(frames: npt.ArrayLike) -> Images:
    """The empty booth from frames of a dancer moving about: the per-pixel temporal median."""
    stack = np.asarray(frames, dtype=np.uint8)
    if stack.ndim != 4 or stack.shape[-1] != 3 or len(stack) == 0:
        raise ValueError(f"expected [T, H, W, 3] frames, got shape {stack.shape}")
    return np.median(stack, axis=0).astype(np.uint8)
