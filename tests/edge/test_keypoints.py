from __future__ import annotations

import numpy as np

from edge.keypoints import DancerSelector, RawKeypoints, smoothing_stages
from edge.pose.base import Person
from edge.settings import SmoothingSettings
from protocol.codec import FLAG_SMOOTHED
from tests.edge.helpers import standing


def test_selector_picks_a_person_and_none_when_nobody_is_there() -> None:
    selector = DancerSelector()
    a = Person(keypoints=standing(640, 480), score=0.9)
    assert selector.select([a], 640, 480) is a
    assert selector.select([], 640, 480) is None or selector.tracking


def test_stage_factory_gives_a_fresh_stage_and_honest_flags() -> None:
    build = smoothing_stages(SmoothingSettings())
    stage, flags = build(30.0)
    kps = standing(640, 480)
    out, extras, mask = stage.process(kps, np.zeros((0, 3), np.float32), 0.0)
    assert out.shape == (17, 3) and extras.shape == (0, 3)
    # Raw keypoints are never labelled smoothed.
    assert (flags == FLAG_SMOOTHED) != isinstance(stage, RawKeypoints)
    if isinstance(stage, RawKeypoints):
        assert mask == 0 and np.array_equal(out, kps)
