"""Rendition quality: a temporal flicker measure and the gate that decides delivery.

**Flicker.** A pose-to-image GAN run frame by frame shimmers: pixels change although
nothing moved there. Without optical flow (no pretrained networks here) the clean
place to see that is where the pose did *not* move: pixels away from the skeleton
in both of two consecutive pose maps (the skeleton dilated by ``margin`` of the
frame size, to cover the body and clothes around its lines). There the rendition
should be still, so the mean absolute frame-to-frame change there, in grey levels
(0-255), is flicker. :class:`FlickerMeter` accumulates it frame by frame, so the
renderer measures while it renders and nothing is held in memory. The overall change
of the rendition and of the pose maps are reported beside it for context.

**Gate.** :class:`QualityGate` compares the model's held-out SSIM (from training; on
the dancer's region where the checkpoint has it, since that is what the visitor looks at)
and the rendition's flicker with configured thresholds: deliver, or send the
session to an operator as ``needs_review`` with the reasons.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class FlickerReport:
    """Mean per-step change (grey levels) over the clip."""

    flicker: float  # change where the pose did not move: the artefact
    rendition_change: float  # change over the whole frame
    pose_change: float  # change of the pose maps themselves (how much the dance moves)
    static_fraction: float  # share of pixels that counted as "pose did not move"
    steps: int


class FlickerMeter:
    """Feed ``(pose_map, rendered_frame)`` pairs in order; :meth:`report` the flicker."""

    def __init__(self, margin: float = 0.06) -> None:
        if not 0 <= margin < 0.5:
            raise ValueError(f"margin is a fraction of the frame size in [0, 0.5), got {margin}")
        self.margin = margin
        self._prev: tuple[npt.NDArray[np.bool_], npt.NDArray[np.float32], Image] | None = None
        self._sum_flicker = self._sum_change = self._sum_pose = self._sum_static = 0.0
        self._steps = 0
        self._kernel: npt.NDArray[np.uint8] | None = None  # built at the first frame size

    def _body(self, pose_map: Image) -> npt.NDArray[np.bool_]:
        if self._kernel is None:
            r = max(1, round(self.margin * min(pose_map.shape[:2])))
            shape = (2 * r + 1, 2 * r + 1)
            self._kernel = np.asarray(
                cv2.getStructuringElement(cv2.MORPH_ELLIPSE, shape), dtype=np.uint8
            )
        drawn = (pose_map.max(axis=2) > 0).astype(np.uint8)
        return np.asarray(cv2.dilate(drawn, self._kernel) > 0)

    def update(self, pose_map: Image, frame: Image) -> None:
        if pose_map.shape[:2] != frame.shape[:2] or frame.ndim != 3:
            raise ValueError(f"pose map {pose_map.shape} and frame {frame.shape} differ in size")
        body = self._body(pose_map)
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
        if self._prev is not None:
            prev_body, prev_grey, prev_pose = self._prev
            diff = np.abs(grey - prev_grey)
            static = ~(body | prev_body)
            n_static = int(static.sum())
            self._sum_flicker += float(diff[static].mean()) if n_static else 0.0
            self._sum_change += float(diff.mean())
            pose_diff = np.abs(pose_map.astype(np.int16) - prev_pose.astype(np.int16))
            self._sum_pose += float(pose_diff.mean())
            self._sum_static += n_static / static.size
            self._steps += 1
        self._prev = (body, grey, pose_map)

    def report(self) -> FlickerReport:
        n = max(self._steps, 1)
        return FlickerReport(
            flicker=self._sum_flicker / n,
            rendition_change=self._sum_change / n,
            pose_change=self._sum_pose / n,
            static_fraction=self._sum_static / n,
            steps=self._steps,
        )


def measure_flicker(
    pose_maps: npt.ArrayLike, frames: npt.ArrayLike, margin: float = 0.06
) -> FlickerReport:
    """Flicker of a whole ``[T, H, W, 3]`` rendition against its pose maps."""
    pm = np.asarray(pose_maps, dtype=np.uint8)
    fr = np.asarray(frames, dtype=np.uint8)
    if pm.shape != fr.shape or pm.ndim != 4:
        raise ValueError(
            f"need [T, H, W, 3] pose maps and frames alike, got {pm.shape}, {fr.shape}"
        )
    meter = FlickerMeter(margin)
    for p, f in zip(pm, fr, strict=True):
        meter.update(p, f)
    return meter.report()


@dataclass(frozen=True)
class QualityDecision:
    deliver: bool
    reasons: tuple[str, ...] = field(default=())

    @property
    def status(self) -> str:
        return "deliver" if self.deliver else "needs_review"


@dataclass(frozen=True)
class QualityGate:
    """Thresholds a rendition must meet to be emailed without an operator looking."""

    min_held_out_ssim: float
    max_flicker: float

    def decide(
        self, held_out_ssim: float | None, flicker: FlickerReport | float
    ) -> QualityDecision:
        value = flicker.flicker if isinstance(flicker, FlickerReport) else float(flicker)
        reasons = []
        if held_out_ssim is None or not math.isfinite(held_out_ssim):
            reasons.append("the model has no held-out SSIM; it was not evaluated")
        elif held_out_ssim < self.min_held_out_ssim:
            minimum = self.min_held_out_ssim
            reasons.append(f"held-out SSIM {held_out_ssim:.3f} is below the minimum {minimum:.3f}")
        if not math.isfinite(value):
            reasons.append("the flicker measure is not a number")
        elif value > self.max_flicker:
            reasons.append(f"flicker {value:.2f} exceeds the maximum {self.max_flicker:.2f}")
        decision = QualityDecision(deliver=not reasons, reasons=tuple(reasons))
        logger.info("quality gate: %s %s", decision.status, "; ".join(reasons))
        return decision
