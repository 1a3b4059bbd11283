"""SSD anchors match the order and count of BlazePose's detector outputs."""

from __future__ import annotations

import numpy as np

from edge.pose.anchors import AnchorOptions, generate_anchors


def test_pose_detection_anchor_grid() -> None:
    a = generate_anchors()
    assert a.shape == (2254, 4)
    # stride 8: 28x28 cells, 2 anchors each (the scale + its interpolated neighbour)
    assert np.allclose(a[0], [0.5 / 28, 0.5 / 28, 1, 1])
    assert np.allclose(a[1], a[0])
    assert np.allclose(a[2, :2], [1.5 / 28, 0.5 / 28])
    assert np.allclose(a[28 * 2, :2], [0.5 / 28, 1.5 / 28])  # next row
    # stride 16 starts after 28*28*2; stride 32 (three layers, 6 anchors a cell) after that
    assert np.allclose(a[1568, :2], [0.5 / 14, 0.5 / 14])
    s32 = a[1568 + 392 :]
    assert len(s32) == 7 * 7 * 6
    assert np.allclose(s32[:6, :2], [0.5 / 7, 0.5 / 7])
    assert np.allclose(s32[-1, :2], [6.5 / 7, 6.5 / 7])


def test_variable_size_anchors_follow_scales() -> None:
    opts = AnchorOptions(
        input_width=64,
        input_height=64,
        num_layers=2,
        strides=(16, 32),
        min_scale=0.2,
        max_scale=0.8,
        fixed_anchor_size=False,
    )
    a = generate_anchors(opts)
    assert a.shape == (4 * 4 * 2 + 2 * 2 * 2, 4)
    assert np.allclose(a[0, 2:], [0.2, 0.2])
    assert np.allclose(a[1, 2:], [np.sqrt(0.2 * 0.8)] * 2)
    assert np.allclose(a[-1, 2:], [np.sqrt(0.8 * 1.0)] * 2)  # last layer interpolates to 1
