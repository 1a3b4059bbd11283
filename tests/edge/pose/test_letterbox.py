"""Letterboxing: one scale, centred, black padding, and the way back."""

from __future__ import annotations

import numpy as np
import pytest

from edge.pose.letterbox import Letterbox


def test_a_16_9_frame_in_a_4_3_input_is_padded_top_and_bottom() -> None:
    box = Letterbox.fit(1280, 720, 641, 481)
    assert (box.scaled_w, box.scaled_h) == (641, 361)
    assert (box.pad_x, box.pad_y) == (0, 60)
    img = np.full((720, 1280, 3), 200, np.uint8)
    out = box.apply(img)
    assert out.shape == (481, 641, 3)
    assert (out[:60] == 0).all() and (out[60 + 361 :] == 0).all()
    assert (out[60 : 60 + 361] == 200).all()
    assert box.padded_share == pytest.approx(1 - 361 / 481, abs=1e-3)


def test_a_4_3_frame_in_a_16_9_input_is_padded_left_and_right() -> None:
    box = Letterbox.fit(640, 480, 1281, 721)
    assert box.scaled_h == 721 and box.scaled_w == 961
    assert box.pad_x == (1281 - 961) // 2 and box.pad_y == 0


def test_points_go_back_through_padding_and_scale() -> None:
    box = Letterbox.fit(1280, 720, 641, 481)
    frame_pts = np.array([[0, 0], [1280, 720], [640, 360], [100.5, 700.25]], np.float32)
    sx, sy = box.scaled_w / 1280, box.scaled_h / 720
    input_pts = frame_pts * [sx, sy] + [box.pad_x, box.pad_y]
    assert box.to_frame(input_pts) == pytest.approx(frame_pts, abs=1e-3)
    # Keypoints arrays keep their leading dimensions.
    assert box.to_frame(input_pts[None]).shape == (1, 4, 2)


def test_matching_shapes_are_a_plain_resize() -> None:
    box = Letterbox.fit(640, 480, 641, 481)
    assert (box.pad_x, box.pad_y) == (0, 0)
    assert (box.scaled_w, box.scaled_h) == (641, 481)


def test_a_frame_of_another_size_is_refused() -> None:
    box = Letterbox.fit(640, 480, 641, 481)
    with pytest.raises(ValueError, match="640x480"):
        box.apply(np.zeros((720, 1280, 3), np.uint8))
