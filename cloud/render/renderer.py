"""The renderer: a normalised reference dance drawn by a Generator into a rendition MP4.

Frames are produced in batches of pose maps, placed into the camera frame over the
clean plate by a :class:`~cloud.render.composite.Stage` (at the camera's resolution),
laid out (``solo`` or ``side-by-side``, :mod:`cloud.render.layout`), measured for
flicker and streamed into the :class:`~cloud.render.video.VideoEncoder` as they come:
memory holds one batch, never the clip. Temporal generators get the last frame of the
previous batch as ``previous``. Optional intro/outro cards (:mod:`cloud.render.card`)
frame the dance; the music starts with the dance.

Keypoints arrive in generator pixels (:meth:`cloud.training.framing.Framing.to_pixels`
of the capture-pixel dance); without a stage the video stays at the generator's
resolution (the benchmark's and old tests' path).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from cloud.render.card import Cards
from cloud.render.composite import Stage, median_background
from cloud.render.errors import GeneratorError
from cloud.render.generator import Generator, Images
from cloud.render.layout import Layout, ReferencePanel, SideBySide
from cloud.render.mark import quietest_corner
from cloud.render.quality import FlickerMeter, FlickerReport
from cloud.render.video import RenditionTags, VideoEncoder
from common.posemap import pose_map
from protocol.skeleton import NUM_KEYPOINTS

if TYPE_CHECKING:
    from cloud.render.checks import FrameSampler

logger = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]  # (frames done, frames total)


@dataclass(frozen=True)
class RenderResult:
    path: Path
    frames: int
    seconds: float
    flicker: FlickerReport
    width: int = 0
    height: int = 0
    empty_alpha: int = 0  # dancer-only frames with an empty alpha: the plate alone
    card_frames: int = 0  # intro + outro frames (not counted in ``frames``)

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
    stage: Stage | None = None,
    layout: Layout = "solo",
    reference: ReferencePanel | None = None,
    cards: Cards | None = None,
    batch_size: int = 8,
    crf: int = 23,
    preset: str = "veryfast",
    progress: ProgressFn | None = None,
    sampler: FrameSampler | None = None,
) -> RenderResult:
    """Render ``[T, 17, 3]`` keypoints (generator pixels) to an MP4 at ``out``.

    A ``sampler`` is offered every frame as the flicker meter sees it (generator
    resolution, over the backdrop), with its driving keypoints and alpha, for the
    rendition's checks (:mod:`cloud.render.checks`).

    With a ``stage`` the video has the stage's (camera's) size, or the side-by-side
    size with ``layout="side-by-side"`` (which needs a ``reference`` panel). On any
    failure the partial file is removed and the error propagates.
    """
    kps = np.asarray(keypoints, dtype=np.float32)
    if kps.ndim != 3 or kps.shape[1:] != (NUM_KEYPOINTS, 3) or len(kps) == 0:
        raise ValueError(f"expected [T, {NUM_KEYPOINTS}, 3] keypoints, got shape {kps.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    res = generator.resolution
    view = _View(generator, kps, stage, layout, reference, background)
    meter = FlickerMeter()
    previous: Images | None = None
    start = time.perf_counter()
    intro = cards.frames(cards.intro_s, fps) if cards is not None else 0
    with VideoEncoder(
        out,
        view.width,
        view.height,
        fps,
        tags,
        music=music,
        music_delay_s=intro / fps,
        crf=crf,
        preset=preset,
        mark_corner=view.corner,
    ) as enc:
        if cards is not None:
            _hold(enc, cards.intro(view.width, view.height), intro)
        for first in range(0, len(kps), batch_size):
            chunk = kps[first : first + batch_size]
            maps = np.stack([pose_map(k, res, res) for k in chunk])
            raw = generator.generate(maps, previous if generator.temporal else None)
            frames = _check_output(raw, len(chunk), generator)
            for i, (m, f) in enumerate(zip(maps, frames, strict=True)):
                shown = view.flicker_frame(f)
                meter.update(m, shown)
                if sampler is not None and sampler.wants(first + i):
                    alpha = f[..., 3] if generator.dancer_only else None
                    sampler.offer(first + i, shown, chunk[i], alpha)
                enc.write(view.frame(f, first + i))
            previous = frames[-1]
            if progress is not None:
                progress(min(first + batch_size, len(kps)), len(kps))
        outro = 0
        if cards is not None:
            outro = cards.frames(cards.outro_s, fps)
            _hold(enc, cards.outro(view.width, view.height), outro)
    result = RenderResult(
        Path(out),
        len(kps),
        time.perf_counter() - start,
        meter.report(),
        view.width,
        view.height,
        stage.counts.empty_alpha if stage is not None else 0,
        intro + outro,
    )
    logger.info(
        "rendered %d frames at %dx%d in %.1f s (%.1f fps), flicker %.2f",
        result.frames,
        result.width,
        result.height,
        result.seconds,
        result.fps,
        result.flicker.flicker,
    )
    return result


def _hold(enc: VideoEncoder, card: Images, frames: int) -> None:
    for _ in range(frames):
        enc.write(card)


class _View:
    """Generator frames -> the frames the video shows (placed, laid out) and the mark corner."""

    def __init__(
        self,
        generator: Generator,
        kps: npt.NDArray[np.float32],
        stage: Stage | None,
        layout: Layout,
        reference: ReferencePanel | None,
        background: Images | None,
    ) -> None:
        res = generator.resolution
        self.stage, self.side = stage, None
        self._dancer_only = generator.dancer_only
        if stage is None:
            if layout != "solo":
                raise ValueError("the side-by-side layout needs a stage (the camera frame)")
            self.width = self.height = res
            self._bg = _background(generator, background)
            self.corner = quietest_corner(kps, res, res)
            return
        if stage.resolution != res:
            raise GeneratorError(
                f"the stage is set up for {stage.resolution} px, generator "
                f"{generator.model_version} draws {res} px"
            )
        self._bg = stage.crop() if generator.dancer_only else None
        out_kps = stage.to_camera(kps)
        self.width, self.height = stage.size
        if layout == "side-by-side":
            if reference is None:
                raise ValueError("the side-by-side layout needs the reference panel")
            self.side = SideBySide(stage, reference, out_kps)
            self.width, self.height = self.side.width, self.side.height
            out_kps = self.side.to_output(out_kps)
        self.corner = quietest_corner(out_kps, self.width, self.height)

    def flicker_frame(self, generated: Images) -> Images:
        """What the flicker meter sees: the generator's frame, over the backdrop if dancer-only."""
        if self._bg is None:
            return generated
        return composite(generated[None], self._bg)[0]

    def frame(self, generated: Images, index: int) -> Images:
        if self.stage is None:
            return self.flicker_frame(generated)
        placed = self.stage.place_one(generated)
        return self.side.compose(placed, index) if self.side is not None else placed


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
    """The empty booth from frames of a dancer moving about (see :func:`median_background`)."""
    return median_background(frames)
