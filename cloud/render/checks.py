"""The reference-free checks of a rendition: is there a person, do they do the pose, do
they look like the visitor.

While the renderer draws, a :class:`FrameSampler` keeps a sample of frames spread over
the dance at the generator's resolution (as the visitor sees them: a dancer-only
generator's output composited over the backdrop), with the keypoints that drove them and
the generator's alpha. After the render, :func:`check_rendition` runs the pose estimator
on the sample (:mod:`cloud.render.fidelity`) and compares the drawn person with the
visitor's capture (:mod:`cloud.render.appearance`); :func:`strip` draws the worst frames
with the detected skeleton over them for the review page.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from cloud.render import appearance
from cloud.render.fidelity import PoseFidelity, pose_fidelity
from cloud.render.inputs import VisitorClip
from cloud.training.framing import Framing, FramingError
from common.pose_check import Keypoints, PoseFn
from protocol.skeleton import LIMBS

logger = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]


class FrameSampler:
    """Keeps ``runs`` runs of ``run_length`` consecutive frames spread over ``total``
    frames (the first run starts at frame 0, the last ends at the last frame): runs let
    the pose tracker follow the person instead of detecting them in every frame."""

    def __init__(self, total: int, runs: int, run_length: int = 4) -> None:
        if total < 1 or runs < 1 or run_length < 1:
            raise ValueError(
                f"need frames, runs and a run length >= 1: {total}, {runs}, {run_length}"
            )
        run_length = min(run_length, total)
        starts = np.linspace(0, total - run_length, min(runs, total)).round().astype(int)
        self.wanted = sorted({int(s) + i for s in starts for i in range(run_length)})
        self._wanted = set(self.wanted)
        self.frames: list[Image] = []
        self.keypoints: list[Keypoints] = []
        self.alphas: list[Image | None] = []
        self.indices: list[int] = []

    def wants(self, index: int) -> bool:
        return index in self._wanted

    def offer(self, index: int, frame: Image, keypoints: Keypoints, alpha: Image | None) -> None:
        if self.wants(index) and (not self.indices or index > self.indices[-1]):
            self.frames.append(np.array(frame, np.uint8, copy=True))
            self.keypoints.append(np.asarray(keypoints, np.float32).copy())
            self.alphas.append(None if alpha is None else np.array(alpha, np.uint8, copy=True))
            self.indices.append(index)


@dataclass(frozen=True)
class RenditionChecks:
    pose: PoseFidelity
    appearance: appearance.Appearance | None  # None when the capture had no usable frames
    detected: list[Keypoints | None]
    sample_indices: list[int]
    seconds: float  # the checks' own cost (pose estimation included)
    notes: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {
            "pose": self.pose.report(),
            "appearance": None if self.appearance is None else self.appearance.report(),
            "sample_indices": self.sample_indices,
            "seconds": self.seconds,
            "notes": self.notes,
        }


def visitor_signatures(
    clip: VisitorClip, resolution: int
) -> list[dict[str, appearance.Signature | None]]:
    """The capture's samples, cropped like the training crop at ``resolution`` px."""
    try:
        framing = Framing.around(clip.keypoints, clip.width, clip.height)
    except FramingError:
        return []
    images: list[Image] = []
    poses: list[Keypoints] = []
    masks: list[Image | None] = []
    masks_in = clip.sample_masks or (None,) * len(clip.samples)
    for img, index, mask in zip(clip.decoded_samples(), clip.sample_index, masks_in, strict=False):
        if img is None:
            continue
        images.append(framing.apply(img, resolution))
        poses.append(framing.to_pixels(clip.keypoints[index], resolution))
        if mask is not None:
            full = cv2.resize(mask, (clip.width, clip.height), interpolation=cv2.INTER_NEAREST)
            masks.append(framing.apply(np.dstack([full] * 3), resolution)[..., 0])
        else:
            masks.append(None)
    return appearance.signatures(images, poses, masks)


def check_rendition(
    sampler: FrameSampler,
    estimate: PoseFn,
    visitor: list[dict[str, appearance.Signature | None]],
    limb_threshold: float = 0.5,
) -> RenditionChecks:
    """Pose fidelity and appearance of the sampled frames (ValueError if none were kept)."""
    if not sampler.frames:
        raise ValueError("the rendition kept no sample frames: was anything rendered?")
    start = time.perf_counter()
    frames = np.stack(sampler.frames)
    detected = estimate(frames, sampler.indices)
    pose = pose_fidelity(np.stack(sampler.keypoints), detected, limb_threshold)
    notes = []
    look = None
    if visitor:
        drawn = appearance.signatures(sampler.frames, sampler.keypoints, sampler.alphas)
        look = appearance.compare(visitor, drawn)
    else:
        notes.append("no capture frames to compare the appearance with")
    seconds = time.perf_counter() - start
    logger.info(
        "rendition checks: %d frames, nobody in %.0f%%, pose error %.2f torso units, "
        "appearance %s, %.1f s",
        len(frames),
        100 * pose.missing,
        pose.mean_error,
        "n/a" if look is None or look.overall is None else f"{look.overall:.2f}",
        seconds,
    )
    return RenditionChecks(pose, look, detected, list(sampler.indices), seconds, notes)


def strip(sampler: FrameSampler, checks: RenditionChecks, count: int = 6) -> Image:
    """The ``count`` worst sampled frames side by side, in time order, each with the
    driving skeleton (thin, grey) and the detected one (green; a red cross where nobody
    was found) drawn over it, and its frame number."""
    if not sampler.frames:
        raise ValueError("no sampled frames to draw")
    picks = sorted(checks.pose.worst_frames(count))
    tiles = []
    for i in picks:
        tile = np.array(sampler.frames[i], copy=True)
        _skeleton(tile, sampler.keypoints[i], (160, 160, 160), 1)
        found = checks.detected[i]
        if found is None:
            h, w = tile.shape[:2]
            cv2.line(tile, (0, 0), (w - 1, h - 1), (0, 0, 255), 2)
            cv2.line(tile, (w - 1, 0), (0, h - 1), (0, 0, 255), 2)
        else:
            _skeleton(tile, found, (0, 220, 0), 2)
        label = f"#{sampler.indices[i]}"
        cv2.putText(tile, label, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
        tiles.append(tile)
    return np.concatenate(tiles, axis=1)


def _skeleton(image: Image, kps: Keypoints, colour: tuple[int, int, int], width: int) -> None:
    pts = np.round(np.asarray(kps)[:, :2]).astype(int)
    for a, b in LIMBS:
        cv2.line(image, tuple(pts[a]), tuple(pts[b]), colour, width, cv2.LINE_AA)
