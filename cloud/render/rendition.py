"""One rendition, made the same way by the worker and by ``dancebooth render``.

From a visitor's clip, a dance and a generator: bring the dance to the booth camera's
frame rate, normalise the dance to the visitor,
frame it like the training crop, choose the backdrop (the clean plate, else the clip's
median background, else plain grey), set the stage at the camera's resolution (at
least ``min_height`` tall), build the side-by-side panel if asked (the reference's
video, else its skeleton), add the cards and render. The :class:`Rendition` carries
the video's figures and a report that says, in words too, every fallback taken.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from cloud.render.card import Cards
from cloud.render.checks import FrameSampler
from cloud.render.composite import Backdrop, Stage
from cloud.render.generator import Generator, Images
from cloud.render.inputs import Dance, VisitorClip, resample_dance
from cloud.render.layout import Layout, SkeletonPanel, VideoPanel, side_by_side_size
from cloud.render.normalize import normalize_dance
from cloud.render.renderer import ProgressFn, RenderResult, render
from cloud.render.video import RenditionTags
from cloud.settings import RenderSettings
from cloud.training.framing import Framing

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendition:
    result: RenderResult
    layout: Layout
    backdrop: str  # plate | median | plain
    generator_output: str  # dancer-only | full-frame
    reference_panel: str | None  # video | skeleton (side-by-side only)
    notes: list[str] = field(default_factory=list)
    samples: FrameSampler | None = None  # frames kept for the checks, if asked for

    def report(self) -> dict[str, Any]:
        r = self.result
        return {
            "frames": r.frames,
            "card_frames": r.card_frames,
            "width": r.width,
            "height": r.height,
            "flicker": r.flicker.flicker,
            "layout": self.layout,
            "backdrop": self.backdrop,
            "generator_output": self.generator_output,
            "reference_panel": self.reference_panel,
            "empty_alpha_frames": r.empty_alpha,
            "notes": self.notes,
        }


def make_rendition(
    generator: Generator,
    clip: VisitorClip,
    dance: Dance,
    out: Path,
    *,
    tags: RenditionTags,
    settings: RenderSettings,
    plate: Images | None = None,
    layout: Layout = "solo",
    booth_name: str = "",
    progress: ProgressFn | None = None,
    sample_runs: int = 0,
    sample_run_length: int = 4,
) -> Rendition:
    """Render ``dance`` performed by the visitor of ``clip`` to ``out`` (see module doc)."""
    notes: list[str] = []
    # Within 2 % is the same rate (a 30 fps camera's clock says 29.97-30.3).
    if clip.fps is not None and abs(clip.fps / dance.fps - 1) > 0.02:
        notes.append(f"dance resampled from {dance.fps:g} to {clip.fps:g} fps (the booth's camera)")
        dance = resample_dance(dance, clip.fps)
    backdrop = _backdrop(clip, plate, notes)
    clip, backdrop = _at_least(clip, backdrop, settings.min_height, notes)
    mapped, _, fit = normalize_dance(dance.keypoints, clip.keypoints, min_range=settings.min_range)
    if fit.target.collapsed:
        notes.append("the visitor stayed on one spot: one size and floor line used")
    framing = Framing.around(clip.keypoints, clip.width, clip.height)
    stage = Stage(backdrop, framing, generator.resolution, frame_size=(clip.width, clip.height))
    if not generator.dancer_only:
        notes.append(
            "full-frame generator (no mask): its whole frame is upscaled into the dancer's "
            "crop and faded into the backdrop at the crop's border"
        )
    panel: SkeletonPanel | VideoPanel | None = None
    kind = None
    if layout == "side-by-side":
        _, height, width = side_by_side_size(stage)
        if dance.video is not None:
            panel, kind = VideoPanel(dance.video, width, height, dance.fps), "video"
        else:
            panel, kind = SkeletonPanel(dance.keypoints, width, height), "skeleton"
            notes.append("the reference has no video of its own: its skeleton is shown")
    cards = Cards(booth_name or "dancebooth", dance.title or dance.name)
    cards = replace(cards, intro_s=settings.intro_s, outro_s=settings.outro_s)
    sampler = None
    if sample_runs > 0:
        sampler = FrameSampler(len(mapped), sample_runs, sample_run_length)
    try:
        result = render(
            generator,
            framing.to_pixels(mapped, generator.resolution),
            out,
            fps=dance.fps,
            tags=tags,
            music=dance.music,
            stage=stage,
            layout=layout,
            reference=panel,
            cards=cards,
            batch_size=settings.batch_size,
            crf=settings.crf,
            preset=settings.preset,
            progress=progress,
            sampler=sampler,
        )
    finally:
        if isinstance(panel, VideoPanel):
            panel.close()
    if result.empty_alpha:
        notes.append(f"{result.empty_alpha} frames had an empty alpha: the plate alone")
    output = "dancer-only" if generator.dancer_only else "full-frame"
    return Rendition(result, layout, backdrop.source, output, kind, notes, sampler)


def _backdrop(clip: VisitorClip, plate: Images | None, notes: list[str]) -> Backdrop:
    if plate is not None:
        return Backdrop(np.ascontiguousarray(plate, dtype=np.uint8), "plate")
    median = clip.median_background()
    if median is not None:
        notes.append(
            f"no clean plate: composited over the median of {len(clip.samples)} of the "
            "session's frames (traces of the visitor may show)"
        )
        return Backdrop(median, "median")
    notes.append("no clean plate and no frames: composited over plain grey")
    return Backdrop.plain(clip.width, clip.height)


def _at_least(
    clip: VisitorClip, backdrop: Backdrop, min_height: int, notes: list[str]
) -> tuple[VisitorClip, Backdrop]:
    """A camera under ``min_height`` is scaled up to it (clip keypoints and backdrop)."""
    if clip.height >= min_height:
        return clip, backdrop
    if backdrop.image.shape[:2] != (clip.height, clip.width):
        return clip, backdrop  # Stage refuses the mismatch with its own message
    s = min_height / clip.height
    w, h = round(clip.width * s / 2) * 2, round(clip.height * s / 2) * 2
    kps = clip.keypoints.copy()
    kps[..., 0] = (kps[..., 0] + 0.5) * (w / clip.width) - 0.5
    kps[..., 1] = (kps[..., 1] + 0.5) * (h / clip.height) - 0.5
    image = np.asarray(cv2.resize(backdrop.image, (w, h), interpolation=cv2.INTER_LINEAR))
    notes.append(f"camera {clip.width}x{clip.height} upscaled to {w}x{h}")
    scaled = replace(clip, keypoints=kps, width=w, height=h)
    return scaled, Backdrop(image.astype(np.uint8), backdrop.source)
