"""Coral's own model files and reference outputs, committed under tests/fixtures/coral/.

They come from Coral's public repositories (Apache-2.0; sources and commits in that
folder's README.md). The reference CSVs are what Coral's own tests expect each model
to output for its test image, resized the way those tests resize it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
from PIL import Image as PilImage

from edge.frames import Image

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "coral"


def reference(model_stem: str) -> tuple[list[float], list[np.ndarray]]:
    """Pose scores and ``[17, 3]`` (x, y, score) per pose from ``<model>_reference.csv``."""
    scores: dict[int, float] = {}
    keypoints: dict[int, list[list[float]]] = {}
    with (FIXTURES / f"{model_stem}_reference.csv").open() as f:
        for row in csv.DictReader(f):
            pose = int(row["pose_id"])
            scores[pose] = float(row["pose_score"])
            xy_score = [float(row["keypoint_x"]), float(row["keypoint_y"])]
            keypoints.setdefault(pose, []).append([*xy_score, float(row["keypoint_score"])])
    order = sorted(scores)
    return [scores[i] for i in order], [np.array(keypoints[i], np.float32) for i in order]


def couple(width: int, height: int) -> Image:
    """project-posenet's test photo as its test feeds it: PIL nearest-neighbour resize to
    the model input (BGR, as frames are)."""
    rgb = PilImage.open(FIXTURES / "test_couple.jpg").convert("RGB")
    resized = np.asarray(rgb.resize((width, height), PilImage.NEAREST))
    return np.ascontiguousarray(resized[:, :, ::-1])


def squat(size: int | None = None) -> Image:
    """libcoral's MoveNet test photo (squat.bmp, stored losslessly as PNG; 500x610), BGR;
    with ``size``, resized to ``size`` square the way libcoral's test does (bilinear, half-
    pixel centres)."""
    img = cv2.imread(str(FIXTURES / "squat.png"), cv2.IMREAD_COLOR)
    assert img is not None
    if size is None:
        return np.asarray(img, dtype=np.uint8)
    return np.asarray(cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR), np.uint8)
