"""The joint table repair works on: COCO-17 plus the optional foot extras, with the
anchor each joint is placed from when it is lost and the order to place them in."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from protocol.skeleton import (
    COCO_KEYPOINTS,
    EXTRA_FLIP,
    EXTRA_KEYPOINTS,
    FLIP,
    KP,
    NUM_EXTRA_KEYPOINTS,
    NUM_KEYPOINTS,
    PARENT,
)

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]

# The rigid-ish torso quadrilateral: joints with no parent that move together.
TORSO: tuple[int, ...] = (
    KP["left_shoulder"],
    KP["right_shoulder"],
    KP["left_hip"],
    KP["right_hip"],
)

# Where a joint sits relative to its anchor in a relaxed standing pose, in torso lengths
# (x right in the image, y down). Used only before a joint or its mirror was ever seen.
_TEMPLATE: dict[str, tuple[float, float]] = {
    "nose": (0.0, -0.45),
    "left_eye": (0.07, -0.07),
    "right_eye": (-0.07, -0.07),
    "left_ear": (0.08, 0.03),
    "right_ear": (-0.08, 0.03),
    "left_elbow": (0.05, 0.55),
    "right_elbow": (-0.05, 0.55),
    "left_wrist": (0.03, 0.5),
    "right_wrist": (-0.03, 0.5),
    "left_knee": (0.02, 0.8),
    "right_knee": (-0.02, 0.8),
    "left_ankle": (0.0, 0.8),
    "right_ankle": (0.0, 0.8),
    "left_heel": (-0.03, 0.06),
    "right_heel": (0.03, 0.06),
    "left_foot_index": (0.12, 0.1),
    "right_foot_index": (-0.12, 0.1),
}


@dataclass(frozen=True)
class JointTable:
    """Per-joint lookup arrays for ``n`` joints (17, or 21 with the extras).

    A non-torso joint's anchor is the midpoint of ``anchor_a`` and ``anchor_b`` (the
    same joint for a plain parent; both shoulders for the nose). ``levels`` lists the
    non-torso joints grouped so that every anchor is placed before its dependants.
    """

    n: int
    anchor_a: IntArray
    anchor_b: IntArray
    flip: IntArray
    levels: tuple[IntArray, ...]
    depth: IntArray  # 0 for the torso roots, then one more per anchor hop
    template: FloatArray  # [n, 2] offset from anchor, torso lengths
    torso: IntArray


def _anchor(j: int) -> tuple[int, int]:
    if j < NUM_KEYPOINTS:
        parent = PARENT[j]
        if j == KP["nose"]:
            return KP["left_shoulder"], KP["right_shoulder"]
        if parent is None:
            return -1, -1
        return parent, parent
    side = EXTRA_KEYPOINTS[j - NUM_KEYPOINTS].split("_")[0]
    ankle = KP[f"{side}_ankle"]
    return ankle, ankle


@cache
def joint_table(n: int) -> JointTable:
    """The table for ``n`` joints: 17 (COCO) or 21 (COCO + heels and foot tips)."""
    if n not in (NUM_KEYPOINTS, NUM_KEYPOINTS + NUM_EXTRA_KEYPOINTS):
        raise ValueError(f"expected 17 or 21 joints, got {n}")
    anchors = [_anchor(j) for j in range(n)]
    depth = [0] * n
    for j in range(n):  # anchors always come earlier in COCO order, except the nose
        a, b = anchors[j]
        if a >= 0:
            depth[j] = max(depth[a], depth[b]) + 1
    levels = tuple(
        np.array([j for j in range(n) if depth[j] == d], dtype=np.intp)
        for d in range(1, max(depth) + 1)
    )
    flip = list(FLIP) + [NUM_KEYPOINTS + f for f in EXTRA_FLIP][: n - NUM_KEYPOINTS]
    all_names = list(COCO_KEYPOINTS) + list(EXTRA_KEYPOINTS)
    template = np.array([_TEMPLATE.get(all_names[j], (0.0, 0.0)) for j in range(n)])
    return JointTable(
        n=n,
        anchor_a=np.array([a for a, _ in anchors], dtype=np.intp),
        anchor_b=np.array([b for _, b in anchors], dtype=np.intp),
        flip=np.array(flip, dtype=np.intp),
        levels=levels,
        depth=np.array(depth, dtype=np.intp),
        template=template,
        torso=np.array(TORSO, dtype=np.intp),
    )
