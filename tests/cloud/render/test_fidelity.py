"""Pose fidelity from driving and detected keypoints: torso units, mirror, missing, limbs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cloud.render.fidelity import pose_fidelity, torso_size
from protocol.skeleton import FLIP, KP
from tests.cloud.render.skeletons import standing


def _pose(scale: float = 1.0) -> np.ndarray:
    return standing(64, 64, scale * 80).astype(np.float32)


def test_the_same_pose_scores_zero_and_errors_are_in_torso_units() -> None:
    drv = np.stack([_pose(), _pose()])
    assert pose_fidelity(drv, [drv[0], drv[1]]).mean_error == pytest.approx(0.0, abs=1e-6)
    moved = drv[0].copy()
    moved[:, 0] += torso_size(drv[0])  # every joint one torso to the right
    f = pose_fidelity(drv[:1], [moved])
    assert f.mean_error == pytest.approx(1.0, rel=1e-4)
    assert set(f.parts) == {"head", "torso", "arms", "legs"}
    assert f.limbs_off == 1.0 and f.missing == 0.0


def test_the_same_error_reads_the_same_for_a_small_and_a_tall_dancer() -> None:
    small, tall = _pose(0.5), _pose(1.5)
    a, b = small.copy(), tall.copy()
    a[KP["left_wrist"], 1] += 0.4 * torso_size(small)
    b[KP["left_wrist"], 1] += 0.4 * torso_size(tall)
    fa, fb = pose_fidelity(small[None], [a]), pose_fidelity(tall[None], [b])
    assert fa.mean_error == pytest.approx(fb.mean_error, rel=1e-3)
    assert fa.parts["arms"] == pytest.approx(0.1, rel=1e-3)


def test_a_left_right_swap_by_the_estimator_is_not_an_error() -> None:
    drv = _pose()
    swapped = drv[list(FLIP)]
    assert pose_fidelity(drv[None], [swapped]).mean_error == pytest.approx(0.0, abs=1e-6)


def test_frames_without_a_person_count_as_missing_and_are_the_worst() -> None:
    drv = np.stack([_pose()] * 4)
    off = drv[1].copy()
    off[KP["right_ankle"], 0] += 50
    f = pose_fidelity(drv, [drv[0], off, None, None])
    assert f.missing == 0.5
    assert f.limbs_off == 0.5  # of the frames with a person
    assert math.isnan(f.frame_errors[2])
    assert f.worst_frames(3) == [2, 3, 1]
    assert f.report()["frame_errors"][2] is None


def test_nobody_anywhere_gives_no_error_figure_but_full_missing() -> None:
    drv = np.stack([_pose()] * 3)
    f = pose_fidelity(drv, [None, None, None])
    assert f.missing == 1.0 and math.isnan(f.mean_error)
    assert f.report()["mean_error"] is None


def test_imputed_driving_joints_are_not_scored() -> None:
    drv = _pose()
    drv[KP["left_wrist"], 2] = 0.0
    det = drv.copy()
    det[KP["left_wrist"], :2] += 500
    assert pose_fidelity(drv[None], [det]).mean_error == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(
    "driving,detected,match",
    [
        (np.zeros((2, 17, 3), np.float32), [None], "2 driving poses but 1"),
        (np.zeros((0, 17, 3), np.float32), [], "no frames to check"),
        (np.zeros((2, 5, 3), np.float32), [None, None], r"\[N, 17, 3\]"),
    ],
)
def test_bad_input_is_refused_with_what_is_wrong(driving, detected, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        pose_fidelity(driving, detected)
