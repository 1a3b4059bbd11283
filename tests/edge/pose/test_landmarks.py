"""Landmark decoding: heatmap refinement, projection to the image, confidence, COCO map."""

from __future__ import annotations

import numpy as np
import pytest

from edge.pose.landmarks import decode_landmarks, refine_with_heatmap
from edge.pose.roi import RotatedRect
from protocol.skeleton import KP


def test_refinement_moves_to_heatmap_peak() -> None:
    hm = np.full((64, 64, 2), -10.0, np.float32)
    hm[20, 30, 0] = 5.0  # landmark 0's peak: cell (col 30, row 20) -> (120, 80) px
    hm[20, 31, 0] = 5.0  # two equal cells: mean col 30.5
    xy = np.array([[118.0, 83.0], [10.0, 10.0]], np.float32)
    out = refine_with_heatmap(xy, hm, 256)
    assert out[0] == pytest.approx([30.5 * 4, 80.0], abs=0.01)
    assert out[1] == pytest.approx([10.0, 10.0])  # weak window: unchanged


def test_refinement_ignores_peaks_outside_the_window_and_off_map() -> None:
    hm = np.full((64, 64, 2), -10.0, np.float32)
    hm[50, 50, 0] = 5.0
    xy = np.array([[40.0, 40.0], [-5.0, 300.0]], np.float32)
    assert refine_with_heatmap(xy, hm, 256) == pytest.approx(xy)


def test_decode_projects_and_maps_to_coco() -> None:
    raw = np.zeros((39, 5), np.float32)
    raw[:, 0] = np.arange(39) * 4.0  # x in input pixels
    raw[:, 1] = 128.0
    raw[:, 3] = 4.0  # visibility logit
    raw[:, 4] = 6.0  # presence logit
    raw[15, 3] = -4.0  # left wrist (BlazePose 15) hidden
    roi = RotatedRect(cx=300, cy=200, size=512, angle=0.0)
    lm = decode_landmarks(raw.reshape(1, -1), roi, 256)
    assert lm.points[0] == pytest.approx([300 - 256, 200])
    assert lm.points[10] == pytest.approx([300 - 256 + 80, 200])
    kps, extras = lm.coco()
    assert kps.shape == (17, 3) and extras.shape == (4, 3)
    assert kps[KP["left_wrist"], 2] == pytest.approx(1 / (1 + np.exp(4)), rel=1e-4)
    assert kps[KP["nose"], 2] == pytest.approx(1 / (1 + np.exp(-4)), rel=1e-4)
    assert kps[KP["left_shoulder"], 0] == pytest.approx(lm.points[11, 0])
    assert extras[0, 0] == pytest.approx(lm.points[29, 0])  # left heel
    nxt = lm.next_roi()
    assert (nxt.cx, nxt.cy) == pytest.approx(tuple(lm.points[33]))
