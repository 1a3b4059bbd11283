"""Forward kinematics: rigid bones, feet on the floor, sane poses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge.synthetic.body import DOF, L_HEEL, NEUTRAL, NUM_DOFS, BodyShape, pose
from edge.synthetic.dances import freestyle, routine
from edge.synthetic.moves import MOVES
from protocol.skeleton import KP


@pytest.mark.parametrize("seed", [0, 7])
def test_bone_lengths_constant_in_3d_across_dances(seed: int) -> None:
    shape = BodyShape.from_seed(np.random.default_rng(seed))
    t = np.arange(0, 15, 1 / 30)
    for choreo in (freestyle(seed, 15), routine(seed, 120, list(MOVES))):
        joints = pose(shape, choreo.sample(t)).joints
        for (a, b), length in shape.bone_lengths().items():
            d = np.linalg.norm(joints[:, a] - joints[:, b], axis=1)
            np.testing.assert_allclose(d, length, rtol=1e-9)


def test_lowest_foot_point_is_on_the_floor_every_frame() -> None:
    shape = BodyShape()
    joints = pose(shape, freestyle(3, 15).sample(np.arange(0, 15, 1 / 30))).joints
    np.testing.assert_allclose(joints[:, L_HEEL:, 1].min(axis=1), 0.0, atol=1e-12)
    assert joints[..., 1].min() >= -1e-12  # nothing sinks through the floor


def test_neutral_pose_is_upright_and_facing_the_camera() -> None:
    shape = BodyShape()
    j = pose(shape, NEUTRAL[None]).joints[0]
    assert (
        j[KP["nose"], 1] > j[KP["left_shoulder"], 1] > j[KP["left_hip"], 1] > j[KP["left_knee"], 1]
    )
    assert j[KP["left_shoulder"], 0] > j[KP["right_shoulder"], 0]  # dancer's left is +x
    assert j[KP["nose"], 2] > j[KP["left_ear"], 2]  # face toward the camera (+z)
    assert 0.85 * shape.height < j[KP["nose"], 1] < shape.height


def test_raising_the_arm_sideways_lifts_the_wrist_on_its_side() -> None:
    q = NEUTRAL.copy()
    q[DOF["r_sh_abd"]] = np.pi / 2
    q[DOF["r_elbow"]] = 0.0
    j = pose(BodyShape(), q[None]).joints[0]
    assert j[KP["right_wrist"], 0] < j[KP["right_shoulder"], 0] - 0.5
    assert abs(j[KP["right_wrist"], 1] - j[KP["right_shoulder"], 1]) < 0.01


def test_pose_rejects_wrong_parameter_count() -> None:
    with pytest.raises(ValueError, match=str(NUM_DOFS)):
        pose(BodyShape(), np.zeros((3, NUM_DOFS - 1)))


@settings(max_examples=60, deadline=None)
@given(
    q=arrays(np.float64, (4, NUM_DOFS), elements=st.floats(-3.2, 3.2)),
    seed=st.integers(0, 2**31),
)
def test_any_pose_keeps_bones_rigid_and_stands_on_the_floor(q: np.ndarray, seed: int) -> None:
    shape = BodyShape.from_seed(np.random.default_rng(seed))
    joints = pose(shape, q).joints
    for (a, b), length in shape.bone_lengths().items():
        np.testing.assert_allclose(np.linalg.norm(joints[:, a] - joints[:, b], axis=1), length)
    np.testing.assert_allclose(joints[:, L_HEEL:, 1].min(axis=1), 0.0, atol=1e-12)
