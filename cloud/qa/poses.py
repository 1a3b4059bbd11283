"""Pose scores of a capture: coverage of the reference dance, visibility and motion.

Pure numpy on ``[T, 17, 3]`` keypoints (x, y pixels, confidence). A frame *has a pose*
when at least ``min_joints`` joints reach ``min_conf``; frames without one (nobody
found, the dancer out of shot) are left out and counted, never scored as zero.

**Coverage** is the share of the reference's frames that the visitor came close to at
least once. The reference is first moved onto the visitor's body and framing exactly as
the renderer does (:func:`cloud.render.normalize.normalize_dance`, Everybody Dance Now's
ankle/height normalisation), so its limbs have the visitor's size. Each pose is then
taken relative to its hip midpoint, because the generator draws the dancer's square
crop (:mod:`cloud.training.framing`): where on the floor a pose happened matters far
less than the pose. Two poses are as far apart as their *farthest* body joint (of those
both show), in the visitor's torso lengths (shoulder midpoint to hip midpoint, median
over the clip). The farthest joint, not the mean: most of a dance is near standing, so a
mean over 13 joints let a visitor who stood still "cover" 88-90 % of a reference at 0.3
torso lengths, against 95 % for one who danced it; by the farthest joint it is 36-50 %
against 84-85 % (``dancebooth bench qa`` has the figures). Reference frames that show
fewer than six body joints (the back of a spin) cannot be matched and are left out of
the share. Both clips are thinned evenly to at most ``max_frames`` (300: 15 fps over a
20 s dance; neighbouring frames at 30 fps are near duplicates). Without a floor line
(ankles never seen, e.g. a visitor cut off at the knees) the reference is scaled by the
torso ratio instead and the scores say so.

**Visibility**: the whole body is in a frame when a face point and an ankle are seen
inside the image (raised hands may leave it, as in any booth); the feet when both ankles
are; the dancer's share is the median height of the seen joints over the image height.

**Motion** is the median absolute deviation of each body joint about the hips (plus the
hips' own travel), in torso lengths: robust to the pose estimator's outliers and
left/right swaps, which otherwise make a visitor standing still look like dancing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cloud.render.normalize import NormalizationError, normalize_dance
from protocol.skeleton import KP, NUM_KEYPOINTS

Array = npt.NDArray[np.float64]

# Body joints compared for coverage and motion: the face's five points would otherwise
# weigh five times the head's one pose.
BODY: tuple[int, ...] = (KP["nose"], *range(KP["left_shoulder"], NUM_KEYPOINTS))  # no eyes, ears
_SHOULDERS = (KP["left_shoulder"], KP["right_shoulder"])
_HIPS = (KP["left_hip"], KP["right_hip"])
_ANKLES = (KP["left_ankle"], KP["right_ankle"])
_FACE = tuple(KP[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"))
_MIN_COMMON = 6  # joints two poses must both show to be compared at all
_MAD_TO_STD = 1.4826  # a normal distribution's std per median absolute deviation
_BLOCK = 128  # reference frames per block: bounds the [block, T, J, 2] distance array


class PoseScoreError(ValueError):
    """Keypoints that cannot be scored at all; the message says why."""


@dataclass(frozen=True)
class PoseScores:
    """What the keypoints say about a capture (fractions in [0, 1] unless noted)."""

    frames: int  # frames in the capture
    scored: int  # frames with a pose, the ones every score below is measured on
    coverage: float | None  # share of reference frames matched; None: no reference given
    whole_body: float  # share of scored frames with every body joint seen inside the image
    feet: float  # share of scored frames with both ankles seen inside the image
    frame_share: float  # the dancer's median height as a share of the image height
    motion: float  # mean per-joint spread over time, in torso lengths
    torso_px: float  # the visitor's torso length, pixels
    notes: tuple[str, ...] = field(default=())  # how the scores were measured, if unusual


def check_keypoints(kps: npt.ArrayLike, what: str) -> Array:
    arr = np.asarray(kps, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[1:] != (NUM_KEYPOINTS, 3) or len(arr) == 0:
        raise PoseScoreError(f"{what}: need [T, {NUM_KEYPOINTS}, 3] keypoints, got {arr.shape}")
    return arr


def seen_mask(kps: Array, min_conf: float) -> npt.NDArray[np.bool_]:
    """``[T, 17]``: joints confidently found at finite coordinates."""
    return np.asarray((kps[..., 2] >= min_conf) & np.isfinite(kps[..., :2]).all(axis=-1))


def _midpoint(kps: Array, seen: npt.NDArray[np.bool_], pair: tuple[int, int]) -> Array:
    """``[T, 2]`` midpoint of two joints, NaN where either is unseen."""
    mid = kps[:, list(pair), :2].mean(axis=1)
    mid[~seen[:, list(pair)].all(axis=1)] = np.nan
    return mid


def torso_lengths(kps: Array, seen: npt.NDArray[np.bool_]) -> Array:
    """Shoulder-midpoint to hip-midpoint distance per frame (NaN where not measurable)."""
    d = _midpoint(kps, seen, _SHOULDERS) - _midpoint(kps, seen, _HIPS)
    return np.asarray(np.hypot(d[:, 0], d[:, 1]))


def _centred(kps: Array, seen: npt.NDArray[np.bool_]) -> tuple[Array, npt.NDArray[np.bool_]]:
    """Body joints relative to the hip midpoint ``[T, J, 2]`` and which of them count."""
    hips = _midpoint(kps, seen, _HIPS)
    rel = kps[:, list(BODY), :2] - hips[:, None, :]
    hips_ok: npt.NDArray[np.bool_] = np.asarray(np.isfinite(hips).all(axis=1))
    ok = seen[:, list(BODY)] & hips_ok[:, None]
    return np.where(ok[..., None], rel, 0.0), ok


def pose_distances(reference: Array, visitor: Array, min_conf: float, torso: float) -> Array:
    """For each reference frame, the distance (torso lengths) to the nearest visitor pose."""
    ref64, ref_ok = _centred(reference, seen_mask(reference, min_conf))
    vis64, vis_ok = _centred(visitor, seen_mask(visitor, min_conf))
    ref, vis = ref64.astype(np.float32), vis64.astype(np.float32)
    best = np.full(len(ref), np.inf)
    vis_ok_f = vis_ok.astype(np.float32)
    for start in range(0, len(ref), _BLOCK):
        r, rok = ref[start : start + _BLOCK], ref_ok[start : start + _BLOCK].astype(np.float32)
        both = rok[:, None, :] * vis_ok_f[None, :, :]  # [B, T, J]
        gap = np.linalg.norm(r[:, None, :, :] - vis[None, :, :, :], axis=-1)  # [B, T, J]
        farthest = (gap * both).max(axis=-1)
        farthest[both.sum(axis=-1) < _MIN_COMMON] = np.inf
        best[start : start + _BLOCK] = farthest.min(axis=1)
    return best / torso


def _mapped_reference(
    reference: Array, visitor: Array, min_conf: float, torso: float
) -> tuple[Array, str | None]:
    """The reference on the visitor's body (see module doc), and a note if it fell back."""
    try:
        mapped, _, _ = normalize_dance(reference, visitor, min_conf=min_conf)
        return np.asarray(mapped, dtype=np.float64), None
    except NormalizationError as exc:
        ref_torso = np.nanmedian(torso_lengths(reference, seen_mask(reference, min_conf)))
        if not np.isfinite(ref_torso) or ref_torso <= 0:
            raise PoseScoreError(f"reference: no frame shows shoulders and hips ({exc})") from None
        scaled = reference.copy()
        scaled[..., :2] *= torso / ref_torso
        return scaled, f"coverage scaled by torso only: {exc}"


def thin(count: int, most: int) -> npt.NDArray[np.intp]:
    """At most ``most`` indices spread evenly over ``count`` frames."""
    if count <= most:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, most).round().astype(np.intp))


def score_poses(
    keypoints: npt.ArrayLike,
    width: int,
    height: int,
    reference: npt.ArrayLike | None = None,
    *,
    min_conf: float = 0.3,
    min_joints: int = 8,
    match_distance: float = 0.3,
    max_frames: int = 300,
) -> PoseScores:
    """Score a capture's keypoints (see module doc); ``reference`` in any pixel frame."""
    kps = check_keypoints(keypoints, "capture")
    if width <= 0 or height <= 0:
        raise PoseScoreError(f"image size must be positive, got {width}x{height}")
    seen = seen_mask(kps, min_conf)
    has_pose = seen.sum(axis=1) >= min_joints
    scored = int(has_pose.sum())
    if scored == 0:
        raise PoseScoreError(
            f"none of the {len(kps)} frames has a pose ({min_joints}+ joints at confidence "
            f">= {min_conf}): nobody was in front of the cameras"
        )
    kps, seen = kps[has_pose], seen[has_pose]
    notes: list[str] = []
    if scored < len(has_pose):
        notes.append(f"scored on the {scored} of {len(has_pose)} frames that have a pose")
    lengths = torso_lengths(kps, seen)
    torso = float(np.nanmedian(lengths)) if np.isfinite(lengths).any() else 0.0
    if torso <= 0:
        raise PoseScoreError("no frame shows both shoulders and both hips: cannot size the body")
    inside = seen & (kps[..., 0] >= 0) & (kps[..., 0] < width) & (kps[..., 1] >= 0)
    inside &= kps[..., 1] < height
    feet = inside[:, list(_ANKLES)]
    whole = float((inside[:, list(_FACE)].any(axis=1) & feet.any(axis=1)).mean())
    ys = np.where(inside, kps[..., 1], np.nan)
    with np.errstate(all="ignore"):
        span = np.nanmax(ys, axis=1) - np.nanmin(ys, axis=1)
    frame_share = float(np.nanmedian(span) / height) if np.isfinite(span).any() else 0.0
    coverage = None
    if reference is not None:
        coverage, note = _coverage(
            check_keypoints(reference, "reference"),
            kps,
            torso,
            min_conf,
            match_distance,
            max_frames,
        )
        notes += note
    return PoseScores(
        frames=len(has_pose),
        scored=scored,
        coverage=coverage,
        whole_body=whole,
        feet=float(feet.all(axis=1).mean()),
        frame_share=frame_share,
        motion=_motion(kps, seen, torso),
        torso_px=torso,
        notes=tuple(notes),
    )


def _coverage(
    ref: Array, kps: Array, torso: float, min_conf: float, match: float, max_frames: int
) -> tuple[float, list[str]]:
    notes = []
    mapped, note = _mapped_reference(ref, kps, min_conf, torso)
    if note:
        notes.append(note)
    mapped = mapped[thin(len(mapped), max_frames)]
    comparable = seen_mask(mapped, min_conf)[:, list(BODY)].sum(axis=1) >= _MIN_COMMON
    if not comparable.any():
        raise PoseScoreError(f"no reference frame shows {_MIN_COMMON}+ body joints")
    if not comparable.all():
        left_out = 1.0 - float(comparable.mean())
        notes.append(f"{left_out:.0%} of the reference's frames show too few joints to match")
    nearest = pose_distances(mapped[comparable], kps[thin(len(kps), max_frames)], min_conf, torso)
    return float((nearest <= match).mean()), notes


def _spread(points: Array) -> float:
    """Robust spread of ``[N, 2]`` points: the MAD per axis as a std, combined."""
    mad = np.median(np.abs(points - np.median(points, axis=0)), axis=0) * _MAD_TO_STD
    return float(np.hypot(mad[0], mad[1]))


def _motion(kps: Array, seen: npt.NDArray[np.bool_], torso: float) -> float:
    """Mean over body joints of their robust spread about the hips over the clip, plus
    the hips' own travel (a visitor who only walks about is not standing still), in
    torso lengths."""
    rel, ok = _centred(kps, seen)
    spreads = [_spread(rel[ok[:, j], j]) for j in range(rel.shape[1]) if ok[:, j].sum() >= 2]
    hips = _midpoint(kps, seen, _HIPS)
    hips = hips[np.isfinite(hips).all(axis=1)]
    travel = _spread(hips) if len(hips) >= 2 else 0.0
    joints = float(np.mean(spreads)) if spreads else 0.0
    return (joints + travel) / torso
