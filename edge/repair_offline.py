"""Offline repair of a whole capture: every gap is filled knowing both of its ends.

The online :class:`~edge.repair.Repairer` first runs forward over the capture; it
decides what was observed (confidence, outliers, left/right swaps fixed) and gives a
causal estimate for every lost joint. Then each gap of a joint is refilled with the
observations on both sides: a limb's offset from its anchor is interpolated from the
pose before the gap to the pose after it (direction and length separately, so a
swinging bone does not shrink), while the torso roots (shoulders) keep the online
track and fade its drift into the next observation.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edge.joints import JointTable, joint_table
from edge.repair import Repairer
from edge.settings import SmoothingSettings

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def repair_offline(
    seq: npt.ArrayLike, fps: float, settings: SmoothingSettings | None = None
) -> tuple[FloatArray, BoolArray]:
    """Repair ``[T, J, 3]`` keypoints (J = 17 or 21); returns them and ``[T, J]`` imputed flags."""
    arr = np.asarray(seq, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected a sequence [T, J, 3], got shape {arr.shape}")
    s = settings or SmoothingSettings()
    repairer = Repairer(s, fps)
    out = np.empty_like(arr)
    imputed = np.zeros(arr.shape[:2], dtype=bool)
    for i, frame in enumerate(arr):
        out[i], imputed[i] = repairer.step(frame, i / fps)
    if len(arr) < 2:
        return out, imputed
    tab = joint_table(arr.shape[1])
    for j in np.flatnonzero(tab.anchor_a < 0):
        for start, end in _runs(imputed[:, j]):
            _fade_drift(out[:, j, :2], start, end)
    for level in tab.levels:
        for j in level:
            for start, end in _runs(imputed[:, j]):
                _interpolate_bone(out, tab, int(j), start, end)
    return out, imputed


def _runs(flags: BoolArray) -> list[tuple[int, int]]:
    """Maximal runs of True as ``(start, end)`` with ``end`` exclusive."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _fade_drift(track: FloatArray, start: int, end: int) -> None:
    """Blend the online track of a gap into the observation that ends it."""
    if end >= len(track):
        return  # nothing observed after: the online (causal) estimate is all we have
    # Online, the frame after a gap is the observation; the causal track drifted from
    # it by the time the gap ended: extrapolate the gap's last motion one frame on.
    last = track[end - 1] + (track[end - 1] - track[end - 2] if end - start >= 2 else 0.0)
    drift = track[end] - last
    ramp = (np.arange(start, end) - start + 1) / (end - start + 1)
    track[start:end] += ramp[:, None] * drift


def _interpolate_bone(out: FloatArray, tab: JointTable, j: int, start: int, end: int) -> None:
    a, b = tab.anchor_a[j], tab.anchor_b[j]
    anchor = (out[:, a, :2] + out[:, b, :2]) / 2
    offset = out[:, j, :2] - anchor
    before = offset[start - 1] if start > 0 else None
    after = offset[end] if end < len(out) else None
    if before is None and after is None:
        return  # never observed: keep the online estimate (mirror / template)
    if before is None or after is None:
        held = before if before is not None else after
        assert held is not None
        out[start:end, j, :2] = anchor[start:end] + held
        return
    w = ((np.arange(start, end) - start + 1) / (end - start + 1))[:, None]
    len0, len1 = np.hypot(*before), np.hypot(*after)
    direction = (1 - w) * before + w * after
    norm = np.hypot(direction[:, 0], direction[:, 1])[:, None]
    length = (1 - w) * len0 + w * len1
    direction = direction * (length / np.where(norm > 1e-9, norm, 1.0))
    out[start:end, j, :2] = anchor[start:end] + direction
