from __future__ import annotations

import cv2
import numpy as np

from edge.frames import Frame
from edge.preview import Previewer, render_preview
from tests.edge.helpers import standing


def test_preview_is_a_small_jpeg_with_the_skeleton_where_the_joints_are() -> None:
    image = np.zeros((480, 640, 3), dtype=np.uint8)
    jpeg = render_preview(image, standing(640, 480), 320)
    out = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert out.shape == (240, 320, 3)
    # Limbs are drawn on the black frame at the scaled joint positions.
    hip_x, hip_y = standing(320, 240)[11, :2].astype(int)
    assert out[hip_y - 3 : hip_y + 4, hip_x - 3 : hip_x + 4].max() > 100
    assert out[5:20, 5:20].max() < 30


def test_previewer_limits_its_rate() -> None:
    sent: list[bytes] = []
    previewer = Previewer(fps=2.0, width=64, publish=sent.append)
    frame = Frame(0, 0, np.zeros((48, 64, 3), dtype=np.uint8))
    for _ in range(20):
        previewer(frame, standing(64, 48))
    assert len(sent) == 1
    assert Previewer(fps=0.0, width=64, publish=sent.append).interval == float("inf")
