"""Detector decoding on synthetic tensors: boxes, keypoints, weighted NMS, letterbox."""

from __future__ import annotations

import numpy as np
import pytest

from edge.pose.anchors import generate_anchors
from edge.pose.detection import Letterbox, decode_detections, iou, weighted_nms

ANCHORS = generate_anchors()


def raw_outputs(entries: list[tuple[int, float, list[float]]]) -> tuple[np.ndarray, np.ndarray]:
    """Outputs with ``[anchor, logit, 12 raw values]`` set; all other anchors score ~0."""
    raw = np.zeros((len(ANCHORS), 12), np.float32)
    logits = np.full((len(ANCHORS), 1), -20.0, np.float32)
    for i, logit, values in entries:
        raw[i] = values
        logits[i] = logit
    return raw, logits


def test_box_and_keypoints_land_in_image_pixels() -> None:
    i = 1568 + 392 + 3 * 7 * 6  # a stride-32 anchor at cell (3, 0): centre (0.5, 0.5/7)
    ax, ay = ANCHORS[i, :2]
    # offsets in input pixels (224): centre +22.4 px right, 44.8 x 67.2 box
    vals = [22.4, 0.0, 44.8, 67.2, 0, 0, 0, -10, 0, 5, 0, -20]
    raw, logits = raw_outputs([(i, 3.0, vals)])
    box = Letterbox.fit(640, 480, 224)
    dets = decode_detections(raw, logits, ANCHORS, box)
    assert len(dets) == 1
    d = dets[0]
    assert d.score == pytest.approx(1 / (1 + np.exp(-3.0)), rel=1e-5)
    s = 224 / 640
    cx = ((ax + 0.1) * 224 - box.pad_x) / s
    cy = (ay * 224 - box.pad_y) / s
    assert d.box == pytest.approx([cx - 64, cy - 96, cx + 64, cy + 96], abs=1e-3)
    assert d.keypoints[1] == pytest.approx([(ax * 224 - box.pad_x) / s, cy - 10 / s], abs=1e-3)


def test_low_scores_are_dropped() -> None:
    raw, logits = raw_outputs([(10, 0.1, [0.0] * 4 + [0.0] * 8)])  # sigmoid 0.52 vs 0.5
    assert len(decode_detections(raw, logits, ANCHORS, Letterbox.fit(224, 224, 224))) == 1
    logits[10] = -0.1
    assert decode_detections(raw, logits, ANCHORS, Letterbox.fit(224, 224, 224)) == []


def test_weighted_nms_merges_overlaps_and_keeps_separate_people() -> None:
    scores = np.array([0.9, 0.6, 0.8], np.float32)
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float32)
    kps = np.zeros((3, 4, 2), np.float32)
    kps[1] += 3.0
    out = weighted_nms(scores, boxes, kps, 0.3)
    assert [round(s, 2) for s, _, _ in out] == [0.9, 0.8]
    # score-weighted: x0 = (0 * 0.9 + 1 * 0.6) / 1.5
    assert out[0][1] == pytest.approx([0.4, 0, 10.4, 10], abs=1e-5)
    assert out[0][2][0, 0] == pytest.approx(3.0 * 0.6 / 1.5)
    assert out[1][1] == pytest.approx([50, 50, 60, 60])


def test_iou() -> None:
    b = np.array([0, 0, 10, 10], np.float32)
    others = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    assert iou(b, others) == pytest.approx([1.0, 50 / 150, 0.0])


def test_letterbox_round_trip() -> None:
    box = Letterbox.fit(640, 480, 224)
    assert box.pad_x == 0 and box.pad_y == pytest.approx(28.0)
    img = np.zeros((480, 640, 3), np.uint8)
    img[230:250, 310:330] = 255
    out = box.apply(img)
    ys, xs = np.nonzero(out[:, :, 0] > 128)
    centre = box.to_image(np.array([[xs.mean(), ys.mean()]], np.float32))[0]
    assert centre == pytest.approx([320, 240], abs=2)
