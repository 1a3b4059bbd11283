from __future__ import annotations

import numpy as np

from edge.keypoints import sanitize, smoothing_stages
from edge.settings import SmoothingSettings
from edge.smoothing import KeypointPipeline
from protocol.codec import FLAG_SMOOTHED
from tests.edge.helpers import standing


def test_stages_are_fresh_smoothing_pipelines_flagged_smoothed() -> None:
    build = smoothing_stages(SmoothingSettings())
    (a, flags), (b, _) = build(30.0), build(30.0)
    assert isinstance(a, KeypointPipeline) and a is not b and flags == FLAG_SMOOTHED
    kps = standing(640, 480)
    for i in range(10):
        out, extras, mask = a.process(kps, np.zeros((0, 3), np.float32), i / 30)
    assert out.shape == (17, 3) and extras.shape == (0, 3) and mask == 0
    assert np.allclose(out[:, :2], kps[:, :2], atol=1.0)  # a still dancer stays put
    hidden = kps.copy()
    hidden[9] = 0.0  # the left wrist vanishes for a frame: it is imputed and marked
    out, _, mask = a.process(hidden, np.zeros((0, 3), np.float32), 10 / 30)
    assert mask >> 9 & 1 and np.allclose(out[9, :2], kps[9, :2], atol=5.0)


def test_sanitize_makes_any_keypoints_encodable() -> None:
    kps = np.array([[np.nan, 1, 0.5], [1e9, -1e9, 3.0], [10, 20, -1]], dtype=np.float32)
    out = sanitize(kps, 64, 48)
    assert np.isfinite(out).all()
    assert (out[:, 2] >= 0).all() and (out[:, 2] <= 1).all()
    assert out[0].tolist() == [0, 0, 0]
    assert abs(out[1, 0]) <= 256
