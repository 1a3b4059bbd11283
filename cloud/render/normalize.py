"""Pose normalisation: a reference dance moved onto the visitor's body and framing.

Everybody Dance Now (Chan et al., 2019, sec. 3.3) maps source poses to the target
with a per-frame vertical scale and translation. For source and target separately it
finds the *farthest* and *closest* ankle positions (smallest / largest image y: the
floor recedes upwards), and the body height (head to ankle midpoint) of the dancer
standing at each. A source frame whose ankles sit at ``a`` is then

- translated so its ankles land at the target's ankle position linearly interpolated
  between the target's far and close positions by ``a``'s place in the source range;
- scaled by the ratio of heights ``target_h / source_h``, interpolated the same way.

Our visitor dances for about 15 s, often on one spot, so the target range may be
tiny or missing. What this module does about it:

- **Robust ends.** "Far" and "close" are percentiles (default 5th / 95th) of the
  ankle y over frames where both ankles and the head are seen, not the extremes, so
  a single mis-detection cannot define the range. The height at an end is a high
  percentile (upright, not crouching) of the heights of the frames whose ankles lie
  within the outer ``end_band`` fraction of the range.
- **Collapsed range fallback.** If a side's ankle range is smaller than
  ``min_range`` of its median height, that side is treated as a single depth: both
  ends become the median ankle y and one global height (the high percentile over all
  frames). When the *target* collapses, every source frame is scaled to the
  visitor's one observed size and planted at the visitor's one observed floor line,
  keeping the generator inside the framing it was trained on; the reference's depth
  travel becomes a change of size only in the source, which is divided out. When
  the *source* collapses (a reference danced on one spot: on the booth's floor mark),
  it is danced where the visitor stood on that mark: their ankle line when the
  capture began (``home_y``, the median over the opening frames; the count-in puts
  them there), at the size the visitor has there (their range's heights interpolated
  at that depth). The middle of the visitor's range, used before, is a depth set by
  where they wandered: visitor 2 of the synthetic booth, who drifted back and forth
  behind the mark, got the dance 5.5 % short
  (tests/cloud/render/test_normalize_synthetic.py); their median line is no better
  (4.9 %). The source's small ankle moves about its median (steps, hops) are kept,
  scaled, around that line.
- **Clamped extrapolation.** A source frame beyond its own range (a jump, a lunge
  toward the camera) uses the scale of the nearest end, and its ankle offset beyond
  that end is carried over scaled by that end's scale, so a jump stays a jump of the
  right size instead of an extrapolated change of depth.
- Horizontally, the source's median ankle x maps onto the target's, with the
  per-frame scale applied about it, so sideways travel keeps its proportion.

Pure numpy on ``[T, 17, 3]`` arrays (x, y, confidence); the fitted
:class:`Normalization` applies to any ``[T, K, 3]`` array (e.g. the foot extras).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from protocol.skeleton import KP, NUM_KEYPOINTS

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
_HEAD = (KP["nose"], KP["left_eye"], KP["right_eye"], KP["left_ear"], KP["right_ear"])
_ANKLES = (KP["left_ankle"], KP["right_ankle"])


class NormalizationError(ValueError):
    """Keypoints from which no body size or floor line can be measured."""


@dataclass(frozen=True)
class DepthRange:
    """One dancer's floor range: ankle y and body height at the far and close ends."""

    far_y: float
    close_y: float
    far_height: float
    close_height: float
    center_x: float
    collapsed: bool  # True when the range was too small and one depth is used
    home_y: float  # the ankle y when the clip began (the floor mark); collapsed: the median

    def height_at(self, alpha: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Upright body height at range position ``alpha`` (clamped to the ends)."""
        a = np.clip(alpha, 0.0, 1.0)
        return self.far_height + (self.close_height - self.far_height) * a

    def alpha(self, ankle_y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Where ``ankle_y`` lies between far (0) and close (1), unclamped."""
        span = self.close_y - self.far_y
        if self.collapsed or span <= 0:
            return np.full_like(ankle_y, 0.5)
        return (ankle_y - self.far_y) / span


@dataclass(frozen=True)
class Normalization:
    """A fitted source → target mapping, applicable to any keypoints of the source."""

    source: DepthRange
    target: DepthRange

    def frame_transform(
        self, source_ankle_y: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Per-frame ``(scale, target ankle y)`` for source frames with these ankle ys."""
        a = np.asarray(source_ankle_y, dtype=np.float64)
        s, t = self.source, self.target
        alpha = s.alpha(a)
        if s.collapsed:
            # One source depth, danced where the visitor stood most, at their size there;
            # every ankle movement (steps, hops) is kept, scaled.
            home = np.full_like(a, t.home_y)
            scale = t.height_at(t.alpha(home)) / s.far_height
            return scale, home + (a - s.home_y) * scale
        clamped = np.clip(alpha, 0.0, 1.0)
        scale_far = t.far_height / s.far_height
        scale_close = t.close_height / s.close_height
        scale = scale_far + (scale_close - scale_far) * clamped
        ankle = t.far_y + (t.close_y - t.far_y) * clamped
        # Beyond the source's range: carry the overshoot over at the end's scale.
        end_y = np.where(alpha < 0, s.far_y, s.close_y)
        over = np.where((alpha < 0) | (alpha > 1), a - end_y, 0.0)
        return scale, ankle + over * scale

    def apply(self, keypoints: npt.ArrayLike, source_ankle_y: npt.ArrayLike) -> FloatArray:
        """Map ``[T, K, 3]`` source keypoints whose frames have ``source_ankle_y`` [T]."""
        kps = np.asarray(keypoints, dtype=np.float32)
        if kps.ndim != 3 or kps.shape[2] != 3:
            raise NormalizationError(f"expected [T, K, 3] keypoints, got shape {kps.shape}")
        a = np.asarray(source_ankle_y, dtype=np.float64)
        if a.shape != (kps.shape[0],):
            raise NormalizationError(f"need one ankle y per frame, got {a.shape} for {kps.shape}")
        scale, ankle = self.frame_transform(a)
        out = kps.copy()
        sx = scale[:, None]
        out[:, :, 0] = self.target.center_x + (kps[:, :, 0] - self.source.center_x) * sx
        out[:, :, 1] = ankle[:, None] + (kps[:, :, 1] - a[:, None]) * sx
        return out


def _check(kps: npt.ArrayLike, what: str) -> npt.NDArray[np.float64]:
    arr = np.asarray(kps, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[1:] != (NUM_KEYPOINTS, 3) or arr.shape[0] == 0:
        raise NormalizationError(
            f"{what}: expected [T, {NUM_KEYPOINTS}, 3] keypoints, got shape {arr.shape}"
        )
    return arr


def ankle_midpoints(
    keypoints: npt.ArrayLike, min_conf: float = 0.2
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Per-frame ankle midpoint ``(x, y)`` and whether both ankles were seen.

    Frames with an unseen ankle get the value interpolated in time from seen frames
    (held at the ends), so every frame can be transformed.
    """
    arr = _check(keypoints, "ankles")
    ank = arr[:, list(_ANKLES)]
    seen: npt.NDArray[np.bool_] = np.asarray(
        (ank[:, :, 2] >= min_conf).all(axis=1) & np.isfinite(ank).all(axis=(1, 2))
    )
    if not seen.any():
        raise NormalizationError("no frame shows both ankles; cannot find the floor line")
    mid = np.nan_to_num(ank[:, :, :2]).mean(axis=1)
    t = np.arange(arr.shape[0])
    xs = np.interp(t, t[seen], mid[seen, 0])
    ys = np.interp(t, t[seen], mid[seen, 1])
    return xs, ys, seen


def body_heights(keypoints: npt.ArrayLike, min_conf: float = 0.2) -> npt.NDArray[np.float64]:
    """Head-to-ankle-midpoint height per frame (NaN where head or ankles are unseen)."""
    arr = _check(keypoints, "heights")
    head = arr[:, list(_HEAD)]
    head_seen = head[:, :, 2] >= min_conf
    head_y = np.where(head_seen, head[:, :, 1], np.nan)
    with np.errstate(all="ignore"):
        top = np.nanmean(head_y, axis=1) if head_seen.any() else np.full(arr.shape[0], np.nan)
    _, ankle_y, seen = ankle_midpoints(arr, min_conf)
    h = ankle_y - top
    h[~seen | ~head_seen.any(axis=1) | (h <= 0)] = np.nan
    return h


def fit_depth_range(
    keypoints: npt.ArrayLike,
    *,
    min_conf: float = 0.2,
    percentiles: tuple[float, float] = (5.0, 95.0),
    end_band: float = 0.2,
    height_percentile: float = 90.0,
    min_range: float = 0.05,
    home_share: int = 20,
) -> DepthRange:
    """Measure a dancer's far/close ankle y and the heights there (see module doc).

    ``home_y`` is the median ankle y over the first ``1 / home_share`` of the frames
    that show both ankles (at least 3): 0.75 s of a 15 s clip.
    """
    arr = _check(keypoints, "depth range")
    xs, ys, seen = ankle_midpoints(arr, min_conf)
    heights = body_heights(arr, min_conf)
    ok = np.isfinite(heights)
    if not ok.any():
        raise NormalizationError("no frame shows head and ankles together; cannot measure height")
    ay, hh = ys[ok], heights[ok]
    far_y, close_y = (float(v) for v in np.percentile(ay, percentiles))
    overall_h = float(np.percentile(hh, height_percentile))
    center_x = float(np.median(xs[ok]))
    if close_y - far_y < min_range * float(np.median(hh)):
        mid = float(np.median(ay))
        return DepthRange(mid, mid, overall_h, overall_h, center_x, True, mid)
    opening = ys[seen][: max(3, len(ys) // home_share)]
    home_y = float(np.median(opening))
    band = end_band * (close_y - far_y)
    far_h = float(np.percentile(hh[ay <= far_y + band], height_percentile))
    close_h = float(np.percentile(hh[ay >= close_y - band], height_percentile))
    return DepthRange(far_y, close_y, far_h, close_h, center_x, False, home_y)


def fit_normalization(
    source: npt.ArrayLike, target: npt.ArrayLike, *, min_conf: float = 0.2, min_range: float = 0.05
) -> Normalization:
    """Fit the mapping of ``source`` (reference dance) onto ``target`` (the visitor's clip)."""
    src = fit_depth_range(source, min_conf=min_conf, min_range=min_range)
    tgt = fit_depth_range(target, min_conf=min_conf, min_range=min_range)
    logger.info(
        "pose normalisation: source ankles %.1f-%.1f (h %.1f-%.1f%s), target %.1f-%.1f "
        "(h %.1f-%.1f%s)",
        src.far_y,
        src.close_y,
        src.far_height,
        src.close_height,
        ", one depth" if src.collapsed else "",
        tgt.far_y,
        tgt.close_y,
        tgt.far_height,
        tgt.close_height,
        ", one depth" if tgt.collapsed else "",
    )
    return Normalization(src, tgt)


def normalize_dance(
    reference: npt.ArrayLike,
    visitor: npt.ArrayLike,
    *,
    extras: npt.ArrayLike | None = None,
    min_conf: float = 0.2,
    min_range: float = 0.05,
) -> tuple[FloatArray, FloatArray | None, Normalization]:
    """The reference dance ``[T, 17, 3]`` moved onto the visitor's body and framing.

    Returns the mapped keypoints, the mapped ``extras`` ``[T, K, 3]`` if given, and
    the fitted :class:`Normalization`. Confidences are passed through unchanged.
    """
    fit = fit_normalization(reference, visitor, min_conf=min_conf, min_range=min_range)
    _, ankle_y, _ = ankle_midpoints(reference, min_conf)
    mapped = fit.apply(reference, ankle_y)
    mapped_extras = None
    if extras is not None:
        ex = np.asarray(extras, dtype=np.float32)
        if ex.ndim != 3 or ex.shape[0] != mapped.shape[0]:
            raise NormalizationError(
                f"extras must be [T, K, 3] with T={mapped.shape[0]}, got {ex.shape}"
            )
        mapped_extras = fit.apply(ex, ankle_y)
    return mapped, mapped_extras, fit
