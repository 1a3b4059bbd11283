"""The skeleton every part speaks: COCO-17 keypoints, limbs, flips and the BlazePose map."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

# One pose per row: [joints, 3] x, y pixels and confidence (or visibility for ground truth);
# a sequence adds a leading time axis.
Keypoints = npt.NDArray[np.float32]

COCO_KEYPOINTS: Final[tuple[str, ...]] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
NUM_KEYPOINTS: Final = len(COCO_KEYPOINTS)
KP: Final[dict[str, int]] = {name: i for i, name in enumerate(COCO_KEYPOINTS)}

# Foot points BlazePose gives beyond COCO-17; kept as extras because they pin the
# feet to the floor, which pose normalisation (ankle range) and smoothing benefit from.
EXTRA_KEYPOINTS: Final[tuple[str, ...]] = (
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
NUM_EXTRA_KEYPOINTS: Final = len(EXTRA_KEYPOINTS)

# Limbs as (from, to) joint pairs; the order is also the drawing order of pose maps.
LIMBS: Final[tuple[tuple[int, int], ...]] = (
    (KP["left_shoulder"], KP["right_shoulder"]),
    (KP["left_shoulder"], KP["left_hip"]),
    (KP["right_shoulder"], KP["right_hip"]),
    (KP["left_hip"], KP["right_hip"]),
    (KP["left_shoulder"], KP["left_elbow"]),
    (KP["left_elbow"], KP["left_wrist"]),
    (KP["right_shoulder"], KP["right_elbow"]),
    (KP["right_elbow"], KP["right_wrist"]),
    (KP["left_hip"], KP["left_knee"]),
    (KP["left_knee"], KP["left_ankle"]),
    (KP["right_hip"], KP["right_knee"]),
    (KP["right_knee"], KP["right_ankle"]),
    (KP["nose"], KP["left_eye"]),
    (KP["nose"], KP["right_eye"]),
    (KP["left_eye"], KP["left_ear"]),
    (KP["right_eye"], KP["right_ear"]),
)

# Kinematic parent of each joint (None for the torso anchors). Imputation walks this
# tree: a lost wrist is placed from its elbow, a lost elbow from its shoulder.
PARENT: Final[tuple[int | None, ...]] = (
    None,  # nose: anchored to the shoulders' midpoint
    KP["nose"],
    KP["nose"],
    KP["left_eye"],
    KP["right_eye"],
    None,
    None,
    KP["left_shoulder"],
    KP["right_shoulder"],
    KP["left_elbow"],
    KP["right_elbow"],
    KP["left_shoulder"],
    KP["right_shoulder"],
    KP["left_hip"],
    KP["right_hip"],
    KP["left_knee"],
    KP["right_knee"],
)


def _mirror(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    return name


# FLIP[i] is the joint that i becomes in a horizontally mirrored image.
FLIP: Final[tuple[int, ...]] = tuple(KP[_mirror(n)] for n in COCO_KEYPOINTS)
EXTRA_FLIP: Final[tuple[int, ...]] = tuple(
    EXTRA_KEYPOINTS.index(_mirror(n)) for n in EXTRA_KEYPOINTS
)

# BlazePose's 33 landmarks, in model output order.
BLAZEPOSE_KEYPOINTS: Final[tuple[str, ...]] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
# Index into the 33 BlazePose landmarks for each COCO-17 joint, and for each extra.
BLAZEPOSE_TO_COCO: Final[tuple[int, ...]] = tuple(
    BLAZEPOSE_KEYPOINTS.index(n) for n in COCO_KEYPOINTS
)
BLAZEPOSE_TO_EXTRA: Final[tuple[int, ...]] = tuple(
    BLAZEPOSE_KEYPOINTS.index(n) for n in EXTRA_KEYPOINTS
)

FloatArray = npt.NDArray[np.float32]


def blazepose_to_coco(landmarks: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Split ``[33, C]`` BlazePose landmarks into COCO-17 ``[17, C]`` and extras ``[4, C]``."""
    arr = np.asarray(landmarks, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] != len(BLAZEPOSE_KEYPOINTS):
        raise ValueError(f"expected [33, C] BlazePose landmarks, got shape {arr.shape}")
    return arr[list(BLAZEPOSE_TO_COCO)], arr[list(BLAZEPOSE_TO_EXTRA)]


def flip_keypoints(kps: npt.ArrayLike, width: float) -> FloatArray:
    """Mirror ``[17, C>=2]`` keypoints (x, y, ...) about the vertical axis of an image."""
    arr = np.array(kps, dtype=np.float32, copy=True)
    if arr.shape[0] != NUM_KEYPOINTS:
        raise ValueError(f"expected {NUM_KEYPOINTS} keypoints, got {arr.shape[0]}")
    arr[:, 0] = (width - 1) - arr[:, 0]
    return arr[list(FLIP)]


def torso_length(kps: npt.ArrayLike) -> float:
    """Shoulder-midpoint to hip-midpoint distance: the scale keypoint errors are reported in."""
    arr = np.asarray(kps, dtype=np.float64)
    shoulders = (arr[KP["left_shoulder"], :2] + arr[KP["right_shoulder"], :2]) / 2
    hips = (arr[KP["left_hip"], :2] + arr[KP["right_hip"], :2]) / 2
    return float(np.linalg.norm(shoulders - hips))
