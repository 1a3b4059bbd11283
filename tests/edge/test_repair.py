"""Imputation of lost joints, online and offline, against known trajectories."""

from __future__ import annotations

import cmath

import numpy as np
import pytest

import edge.repair
from edge.repair import Repairer, mask_bits
from edge.repair_offline import repair_offline
from edge.settings import SmoothingSettings
from edge.smoothing_metrics import joint_errors
from protocol.skeleton import FLIP, KP
from tests.edge.helpers import standing
from tests.edge.trajectories import corrupt, dancer

WRIST, ELBOW = KP["left_wrist"], KP["left_elbow"]


def _online(seq: np.ndarray, settings: SmoothingSettings | None = None):
    r = Repairer(settings or SmoothingSettings(), fps=30)
    outs = [r.step(f, i / 30) for i, f in enumerate(seq)]
    return np.array([o for o, _ in outs]), np.array([m for _, m in outs])


def _lose(seq: np.ndarray, frames: slice, *joints: int) -> np.ndarray:
    lost = seq.copy()
    for j in joints:
        lost[frames, j, :2] += 90.0  # garbage where the estimator was unsure
        lost[frames, j, 2] = 0.05
    return lost


def test_mask_bits() -> None:
    flags = np.zeros(21, dtype=bool)
    assert mask_bits(flags) == 0
    flags[[0, 9, 18]] = True
    assert mask_bits(flags) == (1 << 0) | (1 << 9) | (1 << 18)


@pytest.mark.parametrize("gap", [3, 6])
def test_short_gap_is_bridged_close_to_truth(gap: int) -> None:
    truth = corrupt(dancer(120, seed=4), seed=4, jitter=0.0).seq
    out, imputed = _online(_lose(truth, slice(60, 60 + gap), WRIST))
    err = joint_errors(out, truth)[60 : 60 + gap, WRIST]
    assert err.max() < 25.0  # % torso; a lost wrist left where it was would be ~40
    assert imputed[60 : 60 + gap, WRIST].all()


def test_long_gap_keeps_the_bone_on_the_skeleton() -> None:
    truth = corrupt(dancer(200, seed=5), seed=5, jitter=0.0).seq
    out, _ = _online(_lose(truth, slice(60, 120), WRIST, ELBOW))
    bone = np.hypot(*(out[60:120, WRIST, :2] - out[60:120, ELBOW, :2]).T)
    true_bone = np.hypot(*(truth[0, WRIST, :2] - truth[0, ELBOW, :2]))
    np.testing.assert_allclose(bone, true_bone, rtol=0.05)
    upper = np.hypot(*(out[60:120, ELBOW, :2] - out[60:120, KP["left_shoulder"], :2]).T)
    true_upper = np.hypot(*(truth[0, ELBOW, :2] - truth[0, KP["left_shoulder"], :2]))
    np.testing.assert_allclose(upper, true_upper, rtol=0.05)
    # The arm follows the body: errors stay bounded although the dancer keeps moving.
    assert joint_errors(out, truth)[60:120, WRIST].max() < 100.0


def test_imputed_mask_is_exactly_the_repaired_joints() -> None:
    truth = dancer(150, seed=6)
    noisy = corrupt(truth, seed=6, jitter=0.01, dropout_rate=0.01)
    out, imputed = _online(noisy.seq)
    # Marked joints are exactly the ones changed: the rest pass through untouched.
    np.testing.assert_array_equal(out[~imputed], noisy.seq[~imputed])
    assert (out[imputed, 2] == SmoothingSettings().imputed_confidence).all()
    assert (np.abs(out[imputed, :2] - noisy.seq[imputed, :2]) > 0).any(axis=1).all()
    # And they are the lost ones: every dropout, (almost) nothing else.
    assert imputed[noisy.dropped].all()
    assert imputed[~noisy.dropped].mean() < 0.002


def test_confident_outliers_are_imputed_and_swaps_fixed() -> None:
    truth = dancer(300, seed=7)
    noisy = corrupt(truth, seed=7, jitter=0.01, outlier_rate=0.01, swap_rate=0.03)
    out, imputed = _online(noisy.seq)
    assert imputed[noisy.outliers].mean() > 0.9
    assert imputed[~noisy.outliers].mean() < 0.01
    swapped = np.flatnonzero(noisy.swapped)
    assert len(swapped) > 0
    assert joint_errors(out, truth)[swapped].mean() < 10.0


def test_never_seen_joint_borrows_its_mirror() -> None:
    truth = corrupt(dancer(40, seed=8), seed=8, jitter=0.0).seq
    out, imputed = _online(_lose(truth, slice(0, 40), KP["right_knee"], KP["right_ankle"]))
    assert imputed[:, KP["right_knee"]].all()
    # Placed below the hip, about a thigh away: a plausible leg, not the origin.
    knee, hip = out[:, KP["right_knee"]], out[:, KP["right_hip"]]
    assert (knee[:, 1] > hip[:, 1]).all()
    assert joint_errors(out, truth)[:, KP["right_knee"]].mean() < 40.0


def test_non_finite_input_is_treated_as_missing() -> None:
    truth = dancer(30)
    bad = truth.copy()
    bad[10, 3] = np.nan
    bad[11, 4, 0] = np.inf
    out, imputed = _online(bad)
    assert np.isfinite(out).all()
    assert imputed[10, 3] and imputed[11, 4]


def test_lost_shoulder_follows_the_torso() -> None:
    truth = corrupt(dancer(100, seed=9), seed=9, jitter=0.0).seq
    out, _ = _online(_lose(truth, slice(40, 70), KP["left_shoulder"]))
    assert joint_errors(out, truth)[40:70, KP["left_shoulder"]].max() < 10.0


def test_bad_shape_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\[J, 3\]"):
        Repairer(SmoothingSettings(), 30).step(np.zeros((17, 2)), 0.0)
    with pytest.raises(ValueError, match="17 or 21"):
        Repairer(SmoothingSettings(), 30).step(np.zeros((18, 3)), 0.0)


def test_offline_repair_beats_online_on_gaps() -> None:
    truth = dancer(450, seed=10)
    noisy = corrupt(truth, seed=10, dropout_rate=0.01, outlier_rate=0.005)
    online, imputed = _online(noisy.seq)
    offline, imputed_off = repair_offline(noisy.seq, fps=30)
    np.testing.assert_array_equal(imputed, imputed_off)
    errors_on = joint_errors(online, truth)[imputed].mean()
    errors_off = joint_errors(offline, truth)[imputed].mean()
    assert errors_off < 0.8 * errors_on


def test_offline_repair_interpolates_a_gap_between_its_ends() -> None:
    truth = corrupt(dancer(100, seed=11), seed=11, jitter=0.0).seq
    lost = _lose(truth, slice(30, 37), WRIST)
    out, imputed = repair_offline(lost, fps=30)
    assert imputed[30:37, WRIST].all() and imputed[:, WRIST].sum() == 7
    online, _ = _online(lost)
    offline_error = joint_errors(out, truth)[30:37, WRIST]
    assert offline_error.max() < 20.0
    # Knowing where the gap ends, it lands there smoothly instead of jumping.
    assert offline_error.max() < joint_errors(online, truth)[30:37, WRIST].max()


def test_short_gap_coasts_on_the_bone_velocity_when_enabled() -> None:
    truth = corrupt(dancer(90, seed=12), seed=12, jitter=0.0).seq
    angle = 1.5 * np.arange(90) / 30  # forearm turning steadily at 1.5 rad/s
    forearm = 55.0 * np.stack([np.sin(angle), np.cos(angle)], 1)
    truth[:, WRIST, :2] = truth[:, ELBOW, :2] + forearm
    lost = _lose(truth, slice(60, 65), WRIST)
    held, _ = _online(lost)
    coasted, _ = _online(lost, SmoothingSettings(short_gap_s=0.2))
    err_held = joint_errors(held, truth)[60:65, WRIST].mean()
    err_coasted = joint_errors(coasted, truth)[60:65, WRIST].mean()
    assert err_coasted < 0.8 * err_held


def test_a_swap_the_estimator_keeps_is_believed() -> None:
    truth = dancer(120, seed=13)
    glitchy_start = truth.copy()
    glitchy_start[:3] = truth[:3, list(FLIP)]  # the first frames came out mirrored
    out, _ = _online(glitchy_start)
    # Locked on to the mirrored start, the repairer must give in to the estimator.
    assert joint_errors(out, truth)[15:].max() < 1.0
    single = truth.copy()
    single[50, :17] = truth[50, list(FLIP)]  # one glitchy frame: swapped back
    out, _ = _online(single)
    assert joint_errors(out, truth)[50].max() < 1.0


def test_lost_shoulder_moves_rigidly_with_the_torso() -> None:
    pose = standing(640, 480).astype(np.float64)
    r = Repairer(SmoothingSettings(), fps=30)
    for i in range(5):
        r.step(pose, i / 30)
    turn, shift, centre = cmath.exp(0.02j), 2 - 1j, 320 + 240j
    z = (pose[:, 0] + 1j * pose[:, 1] - centre) * turn + centre + shift
    moved = pose.copy()
    moved[:, 0], moved[:, 1] = z.real, z.imag
    moved[KP["left_shoulder"]] = [5.0, 5.0, 0.05]  # lost: unsure, somewhere else
    out, imputed = r.step(moved, 5 / 30)
    assert np.flatnonzero(imputed).tolist() == [KP["left_shoulder"]]
    left = z[KP["left_shoulder"]]
    np.testing.assert_allclose(out[KP["left_shoulder"], :2], [left.real, left.imag], atol=1e-9)


def test_first_frame_without_shoulders_puts_them_above_the_hips() -> None:
    pose = standing(640, 480).astype(np.float64)
    pose[[KP["left_shoulder"], KP["right_shoulder"]], 2] = 0.0
    out, imputed = Repairer(SmoothingSettings(), fps=30).step(pose, 0.0)
    assert imputed[KP["left_shoulder"]] and imputed[KP["right_shoulder"]]
    for shoulder, hip in (("left_shoulder", "left_hip"), ("right_shoulder", "right_hip")):
        np.testing.assert_allclose(out[KP[shoulder], :2], pose[KP[hip], :2] - [0.0, 100.0])


def test_step_points_accepts_any_float_layout_and_updates_it_in_place() -> None:
    seq = corrupt(dancer(40, seed=2), seed=2, dropout_rate=0.05).seq
    plain, strided = Repairer(SmoothingSettings(), 30), Repairer(SmoothingSettings(), 30)
    for i, frame in enumerate(seq):
        a = frame.copy()
        b = np.asfortranarray(np.concatenate([frame, frame], axis=1))[:, 3:]  # strided
        za, ia = plain.step_points(a, i / 30)
        zb, ib = strided.step_points(b, i / 30)
        np.testing.assert_array_equal(za, zb)
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_array_equal(a, b)  # confidences written back


def test_switching_the_joint_count_mid_stream_starts_the_joints_afresh() -> None:
    truth = dancer(120, seed=14)
    feet = np.repeat(truth[:, 15:17], 2, axis=1)  # foot points near the ankles
    lost = _lose(np.concatenate([truth, feet], axis=1), slice(100, 105), WRIST)
    r = Repairer(SmoothingSettings(), fps=30)
    for i, frame in enumerate(lost):
        joints = frame if 40 <= i < 80 else frame[:17]  # 17, 21, then 17 joints again
        out, imputed = r.step(joints, i / 30)
        assert out.shape == (len(joints), 3) and imputed.shape == (len(joints),)
        assert np.isfinite(out).all()
        if 100 <= i < 105:
            assert imputed[WRIST]
            assert joint_errors(out[None], truth[i : i + 1])[0, WRIST] < 25.0
    assert r.torso_length > 0


def test_reset_forgets_everything() -> None:
    seq = corrupt(dancer(60, seed=15), seed=15, dropout_rate=0.02, outlier_rate=0.01).seq
    r = Repairer(SmoothingSettings(short_gap_s=0.2), 30)
    assert np.isnan(r.torso_length) and len(r.recent(4)[2]) == 0
    for i, frame in enumerate(seq[::-1]):
        r.step(frame, i / 30)
    r.reset()
    fresh = Repairer(SmoothingSettings(short_gap_s=0.2), 30)
    for i, frame in enumerate(seq):
        a, b = r.step(frame, i / 30), fresh.step(frame, i / 30)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    for x, y in zip(r.recent(4), fresh.recent(4), strict=True):
        np.testing.assert_array_equal(x, y)


def test_warm_up_leaves_running_repairers_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    seq = corrupt(dancer(40, seed=16), seed=16, dropout_rate=0.05).seq
    a, b = Repairer(SmoothingSettings(), 30), Repairer(SmoothingSettings(), 30)
    for i, frame in enumerate(seq):
        if i == 20:
            monkeypatch.setattr(edge.repair, "_warm", False)
            edge.repair.warm_up()  # a dummy frame through the kernel, again
        np.testing.assert_array_equal(a.step(frame, i / 30)[0], b.step(frame, i / 30)[0])
