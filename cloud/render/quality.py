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
the dancer's region where the checkpoint has it, since that is what the visitor looks at),
the rendition's flicker (absolute, and against the booth's running median) and the
reference-free checks of the drawn person (:class:`CheckFigures`: is anybody there, do
they do the pose, do they look like the visitor, do they drift) with configured
thresholds: deliver, or send the session to an operator as ``needs_review`` with the
reasons, each with its figure and limit.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
class CheckFigures:
    """What the rendition checks found (:mod:`cloud.render.checks`), as the gate reads them
    from the rendition's report; ``error`` when the checks could not run."""

    missing: float | None = None  # share of sampled frames with nobody found
    pose_error: float | None = None  # torso lengths
    worst_pose_part: str | None = None
    appearance: float | None = None  # colour distance to the visitor, the parts' mean
    worst_look_part: str | None = None  # the part furthest from the visitor
    drift: float | None = None  # worst part's rise over the video
    drifting_part: str | None = None
    error: str | None = None

    @classmethod
    def from_report(
        cls, checks: Mapping[str, Any] | None, error: str | None = None
    ) -> CheckFigures:
        if error is not None or not checks:
            return cls(error=error or "the rendition was not checked")
        pose = checks.get("pose") or {}
        look = checks.get("appearance") or {}
        parts, drift = _worst(pose.get("parts")), _worst(look.get("drift"))
        looks = _worst(look.get("parts"))
        return cls(
            missing=_num(pose.get("missing")),
            pose_error=_num(pose.get("mean_error")),
            worst_pose_part=parts[0],
            appearance=_num(look.get("overall")),
            worst_look_part=looks[0],
            drift=drift[1],
            drifting_part=drift[0],
        )


def _num(value: object) -> float | None:
    ok = isinstance(value, int | float) and math.isfinite(value)
    return float(value) if ok else None  # type: ignore[arg-type]


def _worst(values: object) -> tuple[str | None, float | None]:
    if not isinstance(values, Mapping):
        return None, None
    seen = {str(k): v for k, v in values.items() if _num(v) is not None}
    if not seen:
        return None, None
    part = max(seen, key=lambda k: seen[k])
    return part, float(seen[part])


@dataclass(frozen=True)
class QualityDecision:
    deliver: bool
    reasons: tuple[str, ...] = field(default=())

    @property
    def status(self) -> str:
        return "deliver" if self.deliver else "needs_review"


@dataclass(frozen=True)
class QualityGate:
    """Thresholds a rendition must meet to be emailed without an operator looking.
    The checks' thresholds are None where that check is not asked for."""

    min_held_out_ssim: float
    max_flicker: float
    max_missing: float | None = None
    max_pose_error: float | None = None
    max_appearance: float | None = None
    max_appearance_drift: float | None = None
    max_flicker_vs_median: float | None = None
    flicker_floor: float = 0.0  # the running median counts as at least this

    @classmethod
    def from_settings(cls, q: Any) -> QualityGate:
        """From :class:`cloud.settings.QualitySettings` (checks included if it asks)."""
        if not q.checks:
            return cls(q.min_held_out_ssim, q.max_flicker)
        return cls(
            q.min_held_out_ssim,
            q.max_flicker,
            q.max_missing,
            q.max_pose_error,
            q.max_appearance,
            q.max_appearance_drift,
            q.max_flicker_vs_median,
            q.flicker_floor,
        )

    def decide(
        self,
        held_out_ssim: float | None,
        flicker: FlickerReport | float,
        checks: CheckFigures | None = None,
        flicker_median: float | None = None,
    ) -> QualityDecision:
        value = flicker.flicker if isinstance(flicker, FlickerReport) else float(flicker)
        if flicker_median is not None:
            flicker_median = max(flicker_median, self.flicker_floor)
        reasons = []
        if held_out_ssim is None or not math.isfinite(held_out_ssim):
            reasons.append("the model has no held-out SSIM: it was not evaluated")
        elif held_out_ssim < self.min_held_out_ssim:
            minimum = self.min_held_out_ssim
            reasons.append(f"held-out SSIM {held_out_ssim:.3f} is below the minimum {minimum:.3f}")
        if not math.isfinite(value):
            reasons.append("the flicker measure is not a number")
        elif value > self.max_flicker:
            reasons.append(f"flicker {value:.2f} exceeds the maximum {self.max_flicker:.2f}")
        elif (
            self.max_flicker_vs_median is not None
            and flicker_median is not None
            and flicker_median > 0
            and value > self.max_flicker_vs_median * flicker_median
        ):
            reasons.append(
                f"flicker {value:.2f} is {value / flicker_median:.1f}x the booth's running "
                f"median {flicker_median:.2f} (maximum {self.max_flicker_vs_median:g}x)"
            )
        reasons += self._check_reasons(checks)
        decision = QualityDecision(deliver=not reasons, reasons=tuple(reasons))
        logger.info("quality gate: %s %s", decision.status, "; ".join(reasons))
        return decision

    def _check_reasons(self, c: CheckFigures | None) -> list[str]:
        if self.max_missing is None:
            return []
        if c is None or c.error is not None:
            why = c.error if c is not None else "the rendition was not checked"
            return [f"the dancer check could not run ({why})"]
        out = []
        if c.missing is None or c.missing > self.max_missing:
            share = 1.0 if c.missing is None else c.missing
            out.append(
                f"no dancer found in {share:.0%} of the checked frames "
                f"(maximum {self.max_missing:.0%})"
            )
        if _over(c.pose_error, self.max_pose_error):
            out.append(
                f"the drawn pose is off by {c.pose_error:.2f} torso lengths "
                f"(maximum {self.max_pose_error:.2f}, worst: the {c.worst_pose_part})"
            )
        if _over(c.appearance, self.max_appearance):
            furthest = f", furthest: the {c.worst_look_part}" if c.worst_look_part else ""
            out.append(
                f"the drawn person does not look like the visitor: colour distance "
                f"{c.appearance:.2f} over the body (maximum {self.max_appearance:.2f}{furthest})"
            )
        if _over(c.drift, self.max_appearance_drift):
            out.append(
                f"the {c.drifting_part} {_verb(c.drifting_part, 'drifts', 'drift')} away from "
                "the visitor over the video: "
                f"+{c.drift:.2f} (maximum {self.max_appearance_drift:.2f})"
            )
        return out


def _over(value: float | None, limit: float | None) -> bool:
    return value is not None and limit is not None and value > limit


def _verb(part: str | None, one: str, many: str) -> str:
    return many if (part or "").endswith("s") else one
