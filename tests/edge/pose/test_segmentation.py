"""The landmark model's segmentation put back into the frame: the rotated crop's geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge.pose.roi import RotatedRect
from edge.pose.segmentation import roi_mask


@pytest.mark.parametrize("angle", [0.0, math.pi / 2, -0.6, math.pi])
def test_a_person_in_the_crops_upper_half_lands_where_the_crop_saw_it(angle: float) -> None:
    roi = RotatedRect(cx=300.0, cy=200.0, size=160.0, angle=angle)
    logits = np.full((1, 256, 256, 1), -8.0, np.float32)
    logits[0, 40:120, 96:160] = 8.0  # a block in the upper half of the crop
    mask = roi_mask(logits, roi, 256, 640, 480)
    assert mask.shape == (96, 128) and mask.dtype == np.uint8
    # The block's centre, mapped through the crop's own transform, is on the mask; the
    # ROI's far corner (crop pixel 250, 250) and anything off the crop are not.
    centre = roi.project(np.array([[128.0, 80.0]], np.float32), 256)[0] / 5  # 640 -> 128
    assert mask[int(centre[1]), int(centre[0])] > 240
    corner = roi.project(np.array([[250.0, 250.0]], np.float32), 256)[0] / 5
    assert mask[int(corner[1]), int(corner[0])] < 10
    assert mask[0, 0] == 0 and mask[-1, -1] == 0
    # The area is the block's (80 x 64 crop px at 160/256 frame px each, /5 per mask px).
    area = (mask > 127).sum() * 25
    assert area == pytest.approx(80 * 64 * (160 / 256) ** 2, rel=0.15)


def test_a_crop_hanging_off_the_frame_is_clipped_not_wrapped() -> None:
    roi = RotatedRect(cx=10.0, cy=10.0, size=200.0, angle=0.3)
    logits = np.full((256, 256), 8.0, np.float32)  # the whole crop is person
    mask = roi_mask(logits, roi, 256, 320, 240)
    assert mask[0, 0] == 255 and mask[-1, -1] == 0
