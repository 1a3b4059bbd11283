"""Visitors seen by the booth camera: determinism, framing and visibility."""

from __future__ import annotations

import math

import numpy as np

from edge.synthetic.body import DOF, NEUTRAL, BodyShape
from edge.synthetic.choreography import Choreography
from edge.synthetic.visitor import Performance, make_visitor
from protocol.skeleton import KP


def _still(**dofs: float) -> Performance:
    q = NEUTRAL.copy()
    for k, v in dofs.items():
        q[DOF[k]] = v
    return Performance(BodyShape(), Choreography(np.array([0.0, 1.0]), np.stack([q, q])))


def test_same_seed_same_keypoints_other_seed_other_dance() -> None:
    a = make_visitor(5).keypoints(256, 256, 30, 15)
    b = make_visitor(5).keypoints(256, 256, 30, 15)
    c = make_visitor(6).keypoints(256, 256, 30, 15)
    assert a.shape == (450, 17, 3) and a.dtype == np.float32
    assert a.tobytes() == b.tobytes()
    assert np.abs(a[:, :, :2] - c[:, :, :2]).mean() > 5.0
    e = make_visitor(5).extras(256, 256, 30, 15)
    assert e.shape == (450, 4, 3) and e.dtype == np.float32


def test_visible_joints_are_inside_the_frame() -> None:
    for seed in range(3):
        for w, h in ((256, 256), (320, 180), (128, 128)):
            kp = make_visitor(seed).keypoints(w, h, 25, 15)
            assert set(np.unique(kp[..., 2])) <= {0.0, 1.0}
            vis = kp[..., 2] == 1
            assert vis.mean() > 0.7  # mostly seen: a visitor dances facing the booth
            x, y = kp[..., 0][vis], kp[..., 1][vis]
            assert x.min() >= 0 and x.max() <= w - 1 and y.min() >= 0 and y.max() <= h - 1


def test_standing_dancer_is_fully_visible_and_framed() -> None:
    kp = _still().keypoints(256, 256, 30, 1)[0]
    assert kp[:, 2].all()
    assert kp[KP["nose"], 1] < 0.3 * 256 and kp[KP["left_ankle"], 1] > 0.7 * 256
    assert kp[KP["left_shoulder"], 0] > kp[KP["right_shoulder"], 0]  # mirror view


def test_joints_that_leave_the_view_are_not_visible() -> None:
    kp = _still(root_x=-1.2).keypoints(256, 256, 30, 1)[0]  # half out on the left
    assert not kp[KP["right_wrist"], 2] and kp[KP["right_wrist"], 0] < 0
    assert kp[KP["left_hip"], 2]


def test_back_to_the_camera_hides_the_face_but_not_the_ears() -> None:
    kp = _still(yaw=math.pi).keypoints(256, 256, 30, 1)[0]
    assert not kp[[KP["nose"], KP["left_eye"], KP["right_eye"]], 2].any()
    assert kp[[KP["left_ear"], KP["right_ear"]], 2].all()
    assert kp[KP["left_shoulder"], 0] < kp[KP["right_shoulder"], 0]  # seen from behind


def test_side_on_dancer_hides_the_far_shoulder_and_hip() -> None:
    # yaw +90 degrees: the dancer's front turns toward +x, so the left side faces away.
    kp = _still(yaw=math.pi / 2).keypoints(256, 256, 30, 1)[0]
    assert kp[KP["right_shoulder"], 2] and kp[KP["right_hip"], 2]
    assert not kp[KP["left_shoulder"], 2] and not kp[KP["left_hip"], 2]


def test_longer_dance_starts_with_the_same_motion() -> None:
    short = make_visitor(2).keypoints(128, 128, 30, 5)
    long = make_visitor(2).keypoints(128, 128, 30, 20)
    np.testing.assert_array_equal(short, long[: len(short)])


def test_negative_seeds_are_refused_clearly() -> None:
    import pytest

    from edge.synthetic.visitor import make_staff

    for make in (make_visitor, make_staff):
        with pytest.raises(ValueError, match=">= 0"):
            make(-1)
