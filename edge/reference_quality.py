"""The quality check of a reference dance built from a video: is the dancer there, whole,
alone and moving? Measured on the backend's raw keypoints (what was seen) and the
repaired ones (what will be danced); the thresholds live in
:class:`common.reference_add.QualityThresholds`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from common.reference import JOINTS
from common.reference_add import (
    JOINT_GROUPS,
    Problem,
    QualityReport,
    QualityThresholds,
    ReferenceAddError,
)
from protocol.skeleton import KP, NUM_KEYPOINTS

SEEN = 0.3  # a raw joint at or above this confidence counts as seen
FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class Tracked:
    """What following the dancer saw, frame by frame (before repair)."""

    keypoints: FloatArray  # [T, 17, 3] raw; confidence 0 where the dancer was not found
    extras: FloatArray  # [T, 4, 3]
    found: BoolArray  # [T]
    people: npt.NDArray[np.int32]  # [T] people seen
    changed: BoolArray  # [T] the tracker switched to someone else here


def _runs(flags: BoolArray) -> list[tuple[int, int]]:
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def check_whole_person(tracked: Tracked) -> None:
    """Hard errors (``--force`` cannot keep these): nobody, or only a head and shoulders."""
    if not tracked.found.any():
        raise ReferenceAddError(
            "no person was found in any frame; check that the video shows a dancer "
            "(and, for --backend replay, the keypoints file)"
        )
    kps = tracked.keypoints[tracked.found]
    hips = (kps[:, [KP["left_hip"], KP["right_hip"]], 2] >= SEEN).any(axis=1)
    if hips.mean() < 0.2:
        raise ReferenceAddError(
            f"only the head and shoulders are in view ({hips.mean():.0%} of the frames with "
            "a person show the hips); a dance needs the whole body: film from further away"
        )


def imputed_by_group(mask: BoolArray, has_extras: bool) -> dict[str, float]:
    """Share of repaired joints in each group (``mask`` is ``[T, 21]``)."""
    out = {}
    for group, names in JOINT_GROUPS.items():
        idx = [JOINTS.index(n) for n in names]
        if group == "feet" and not has_extras:
            continue  # the backend gives no foot points: nothing was imputed or seen
        out[group] = round(float(mask[:, idx].mean()), 4)
    return out


def motion_energy(kps: FloatArray, fps: float, found: BoolArray) -> float:
    """Mean joint speed in body heights per second, over the frames with the dancer."""
    if len(kps) < 2 or found.sum() < 2:
        return 0.0
    ys = kps[found][:, :NUM_KEYPOINTS, 1]
    height = float(np.median(ys.max(axis=1) - ys.min(axis=1)))
    if height <= 1.0:
        return 0.0
    step = np.linalg.norm(np.diff(kps[:, :NUM_KEYPOINTS, :2], axis=0), axis=2)
    both = found[1:] & found[:-1]
    return round(float(step[both].mean() * fps / height), 4) if both.any() else 0.0


def assess(
    tracked: Tracked,
    repaired: FloatArray,
    mask: BoolArray,
    fps: float,
    thresholds: QualityThresholds,
    *,
    person_chosen: bool = False,
    notes: list[str] | None = None,
) -> QualityReport:
    """The report, with a :class:`Problem` for every threshold not met."""
    frames = len(tracked.found)
    gaps = _runs(~tracked.found)
    longest = max(gaps, key=lambda g: g[1] - g[0], default=(0, 0))
    seen = tracked.keypoints[tracked.found]
    ankles = (seen[:, [KP["left_ankle"], KP["right_ankle"]], 2] >= SEEN).all(axis=1)
    has_extras = bool((tracked.extras[:, :, 2] > 0).any())
    report = QualityReport(
        frames=frames,
        fps=fps,
        duration_s=round(frames / fps, 3),
        dancer_found=round(float(tracked.found.mean()), 4),
        frames_without_dancer=int((~tracked.found).sum()),
        longest_gap_s=round((longest[1] - longest[0]) / fps, 3),
        imputed=imputed_by_group(mask, has_extras),
        imputed_total=round(float(mask[:, :NUM_KEYPOINTS].mean()), 4),
        people_max=int(tracked.people.max(initial=0)),
        multi_people=round(float((tracked.people > 1).mean()), 4),
        dancer_changes=int(tracked.changed.sum()),
        feet_visible=round(float(ankles.mean()) if ankles.size else 0.0, 4),
        motion_energy=motion_energy(repaired, fps, tracked.found),
        notes=list(notes or []),
    )
    report.problems = problems(report, thresholds, longest[0] / fps, person_chosen)
    return report


def problems(
    r: QualityReport, t: QualityThresholds, gap_start_s: float, person_chosen: bool
) -> list[Problem]:
    """Each threshold not met, with what to do about it."""
    out = []
    trim = "trim to where one person dances (--start/--end)"
    pick = "pick the dancer with --person (0 = leftmost, largest, central)"
    if r.duration_s < t.min_duration_s:
        out.append(
            Problem(
                code="too_short",
                message=f"the dance is only {r.duration_s:.1f} s long",
                advice=f"use at least {t.min_duration_s:g} s of video",
            )
        )
    if r.dancer_found < t.min_dancer_found:
        out.append(
            Problem(
                code="dancer_missing",
                message=f"the dancer is missing in {1 - r.dancer_found:.0%} of frames "
                f"({r.frames_without_dancer} of {r.frames})",
                advice=trim,
            )
        )
    if r.longest_gap_s > t.max_gap_s:
        out.append(
            Problem(
                code="long_gap",
                message=f"nobody dances for {r.longest_gap_s:.1f} s from {gap_start_s:.1f} s",
                advice=trim,
            )
        )
    if not person_chosen and r.multi_people > t.max_multi_people:
        out.append(
            Problem(
                code="several_people",
                message=f"several people are in view in {r.multi_people:.0%} of frames",
                advice=f"{pick}, or {trim}",
            )
        )
    if r.dancer_changes > t.max_dancer_changes:
        out.append(
            Problem(
                code="dancer_changed",
                message=f"the followed dancer changed {r.dancer_changes} times "
                "(someone else took over)",
                advice=f"{pick}, or {trim}",
            )
        )
    if r.feet_visible < t.min_feet_visible:
        out.append(
            Problem(
                code="feet_cut_off",
                message=f"the feet are cut off in {1 - r.feet_visible:.0%} of frames",
                advice="film the whole body, feet included",
            )
        )
    worst = max(r.imputed.items(), key=lambda kv: kv[1], default=("", 0.0))
    if worst[1] > t.max_imputed:
        out.append(
            Problem(
                code="imputed",
                message=f"{worst[1]:.0%} of the {worst[0]} joints had to be guessed",
                advice="use a video where the dancer is clearly visible, or trim to that part",
            )
        )
    if r.motion_energy < t.min_motion:
        out.append(
            Problem(
                code="no_motion",
                message=f"the dancer hardly moves ({r.motion_energy:.2f} body heights/s)",
                advice="trim to where the dancing is",
            )
        )
    return out
