"""The benchmark's metrics: they find what was planted."""

from __future__ import annotations

import numpy as np
import pytest

from edge.smoothing_metrics import (
    acceleration_error,
    joint_errors,
    lag_frames,
    mean_joint_error,
    torso_lengths,
)
from tests.edge.trajectories import dancer


@pytest.mark.parametrize("shift", [-3, 0, 1, 2, 5])
def test_lag_estimator_finds_a_known_shift(shift: int) -> None:
    truth = dancer(300, seed=2)
    delayed = np.roll(truth, shift, axis=0)[10:-10]
    assert lag_frames(delayed, truth[10:-10]) == pytest.approx(shift, abs=0.15)


def test_lag_estimator_finds_a_fractional_shift() -> None:
    t = np.arange(400) / 30
    x = np.sin(2 * np.pi * 0.8 * t)
    late = np.sin(2 * np.pi * 0.8 * (t - 0.5 / 30))  # half a frame behind
    as_seq = lambda v: np.stack([v, v], 1)[:, None, :]  # noqa: E731
    assert lag_frames(as_seq(late), as_seq(x)) == pytest.approx(0.5, abs=0.1)


def test_joint_error_is_in_percent_of_torso() -> None:
    truth = dancer(10)
    est = truth.copy()
    torso = torso_lengths(truth)
    est[:, 9, 0] += 0.25 * torso  # left wrist a quarter torso to the right
    errors = joint_errors(est, truth)
    np.testing.assert_allclose(errors[:, 9], 25.0)
    assert mean_joint_error(est, truth) == pytest.approx(25.0 / 17)
    where = np.zeros((10, 17), dtype=bool)
    where[:, 9] = True
    assert mean_joint_error(est, truth, where) == pytest.approx(25.0)


def test_acceleration_error_ignores_offsets_and_sees_jitter() -> None:
    truth = dancer(50)
    assert acceleration_error(truth + 7.0, truth) == pytest.approx(0.0, abs=1e-9)
    jitter = truth.copy()
    jitter[::2, :, 0] += 1.0  # +1 px every other frame: Δ² = ±2 px/frame² in x
    assert acceleration_error(jitter, truth) == pytest.approx(2.0)


def test_metrics_refuse_mismatched_shapes() -> None:
    with pytest.raises(ValueError):
        joint_errors(np.zeros((5, 17, 2)), np.zeros((6, 17, 2)))


def test_joint_error_floors_a_torso_seen_end_on() -> None:
    # A flip: for one frame the torso points at the camera and shrinks to 2 % of its
    # length. An error of a quarter of the dancer's torso there counts as 25 %, not 1,250 %.
    truth = dancer(9)
    shoulders = truth[:, [5, 6], :2].mean(axis=1)
    hips = truth[:, [11, 12], :2].mean(axis=1)
    torso = torso_lengths(truth)
    truth[4, [11, 12], :2] = shoulders[4] + (hips[4] - shoulders[4]) * 0.02
    est = truth.copy()
    est[:, 9, 0] += 0.25 * torso
    errors = joint_errors(est, truth)
    assert errors[4, 9] == pytest.approx(25.0 * torso[4] / (0.5 * np.median(torso)), rel=0.05)
    assert errors[4, 9] < 60
