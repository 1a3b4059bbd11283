"""Rotated regions of interest: alignment, crop and projection back agree."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge.pose.roi import RotatedRect


def test_upright_person_gives_unrotated_square() -> None:
    roi = RotatedRect.from_alignment([100, 200], [100, 120])  # full-body point straight up
    assert roi.angle == pytest.approx(0.0)
    assert roi.size == pytest.approx(2 * 80 * 1.25)
    assert (roi.cx, roi.cy) == (100, 200)


def test_leaning_person_rotates_clockwise() -> None:
    # Full-body point up and to the right: the person leans right (clockwise on screen).
    roi = RotatedRect.from_alignment([0, 0], [10, -10])
    assert roi.angle == pytest.approx(math.pi / 4)
    lying = RotatedRect.from_alignment([0, 0], [-10, 0])
    assert lying.angle == pytest.approx(-math.pi / 2)


@pytest.mark.parametrize("angle", [0.0, 0.4, -1.2, 3.0])
def test_crop_and_project_are_inverse(angle: float) -> None:
    img = np.zeros((480, 640, 3), np.uint8)
    img[295:305, 395:405] = 255  # a bright dot at (400, 300)
    roi = RotatedRect(cx=350, cy=260, size=300, angle=angle)
    crop = roi.crop(img, 256)
    ys, xs = np.nonzero(crop[:, :, 1] > 100)
    assert len(xs) > 0
    found = roi.project(np.array([[xs.mean(), ys.mean()]], np.float32), 256)[0]
    assert found == pytest.approx([400, 300], abs=1.5)


def test_crop_up_direction_follows_rotation() -> None:
    img = np.zeros((400, 400, 3), np.uint8)
    img[145:155, 245:255] = 255  # dot up-right of the centre, half way along the body axis
    roi = RotatedRect.from_alignment([200, 200], [300, 100], scale=1.0)
    crop = roi.crop(img, 128)
    ys, xs = np.nonzero(crop[:, :, 0] > 100)
    assert xs.mean() == pytest.approx(64, abs=2)  # straight above the crop centre
    assert ys.mean() == pytest.approx(64 - 128 / 4, abs=2)


def test_bbox_covers_rotated_square() -> None:
    roi = RotatedRect(cx=0, cy=0, size=10, angle=math.pi / 4)
    assert roi.bbox() == pytest.approx(
        [-5 * math.sqrt(2), -5 * math.sqrt(2)] + [5 * math.sqrt(2)] * 2
    )
