"""One Euro filter against its definition, the online pipeline, the offline smoother."""

from __future__ import annotations

import math

import numpy as np
import pytest

import edge.repair
import edge.smoothing
from edge.settings import SmoothingSettings
from edge.smoothing import KeypointPipeline, OneEuroFilter, smooth_offline, smoothing_factor
from edge.smoothing_metrics import joint_errors, lag_frames
from tests.edge.trajectories import corrupt, dancer


def test_smoothing_factor_is_the_first_order_lowpass_coefficient() -> None:
    tau = 1 / (2 * math.pi * 2.0)
    assert float(smoothing_factor(2.0, 0.01)) == pytest.approx(1 / (1 + tau / 0.01))


def test_step_response_with_beta_zero_is_exponential() -> None:
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0, d_cutoff=1.0, fps=30)
    f(np.zeros((1, 1)), 0.0)
    alpha = float(smoothing_factor(1.0, 1 / 30))
    for n in range(1, 20):
        y = f(np.ones((1, 1)), n / 30)
        assert y[0, 0] == pytest.approx(1 - (1 - alpha) ** n, rel=1e-9)


def test_cutoff_rises_with_speed_as_defined() -> None:
    dt, beta, mc, dc = 1 / 30, 0.5, 1.0, 1.0
    f = OneEuroFilter(min_cutoff=mc, beta=beta, d_cutoff=dc, fps=30)
    f(np.zeros((1, 1)), 0.0)
    y = f(np.full((1, 1), 10.0), dt)
    dx = float(smoothing_factor(dc, dt)) * 10.0 / dt  # low-passed speed after one step
    expected = float(smoothing_factor(mc + beta * dx, dt)) * 10.0
    assert y[0, 0] == pytest.approx(expected, rel=1e-9)


def test_fast_motion_lags_less_with_beta() -> None:
    t = np.arange(60) / 30
    ramp = 300.0 * t
    out = {}
    for beta in (0.0, 1.0):
        f = OneEuroFilter(min_cutoff=1.0, beta=beta, d_cutoff=1.0, fps=30)
        out[beta] = np.array([f(np.array([[x]]), ti)[0, 0] for x, ti in zip(ramp, t, strict=True)])
    assert abs(out[1.0][-1] - ramp[-1]) < 0.2 * abs(out[0.0][-1] - ramp[-1])


def test_filter_is_vectorised_per_point() -> None:
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(30, 3, 2)).cumsum(axis=0)
    joint = OneEuroFilter(1.0, 0.3, 1.0, fps=30)
    single = [OneEuroFilter(1.0, 0.3, 1.0, fps=30) for _ in range(3)]
    for i, x in enumerate(xs):
        together = joint(x, i / 30)
        for k in range(3):
            np.testing.assert_allclose(together[k], single[k](x[k : k + 1], i / 30)[0])


def test_repeated_timestamp_uses_the_nominal_period() -> None:
    a, b = OneEuroFilter(1, 0.1, 1, fps=30), OneEuroFilter(1, 0.1, 1, fps=30)
    a(np.zeros((1, 2)), 0.0)
    b(np.zeros((1, 2)), 0.0)
    np.testing.assert_allclose(a(np.ones((1, 2)), 0.0), b(np.ones((1, 2)), 1 / 30))


def test_filter_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        OneEuroFilter(min_cutoff=0.0, beta=0.0, d_cutoff=1.0, fps=30)


def _run(p: KeypointPipeline, seq: np.ndarray, extras: np.ndarray | None = None) -> list:
    ext = np.zeros((len(seq), 0, 3)) if extras is None else extras
    return [p.process(f, e, i / 30) for i, (f, e) in enumerate(zip(seq, ext, strict=True))]


def test_pipeline_shapes_dtypes_and_extras_mask_bits() -> None:
    truth = dancer(40)
    extras = np.repeat(truth[:, 15:17], 2, axis=1)  # feet points near the ankles
    extras[20:25, 1] += (40.0, 40.0, -1.0)  # right heel lost for 5 frames: unsure, elsewhere
    p = KeypointPipeline(SmoothingSettings(), fps=30)
    outs = _run(p, truth, extras)
    kps, ext, mask = outs[22]
    assert kps.shape == (17, 3) and kps.dtype == np.float32
    assert ext.shape == (4, 3)
    assert mask == 1 << 18
    assert outs[30][2] == 0


def test_pipeline_rejects_bad_shapes() -> None:
    p = KeypointPipeline(SmoothingSettings(), fps=30)
    with pytest.raises(ValueError, match="17, 3"):
        p.process(np.zeros((16, 3)), np.zeros((0, 3)), 0.0)
    with pytest.raises(ValueError):
        p.process(np.zeros((17, 3)), np.zeros((3, 3)), 0.0)


def test_pipeline_reset_forgets_the_dancer() -> None:
    truth = dancer(60)
    noisy = corrupt(truth, seed=3, outlier_rate=0.01, dropout_rate=0.01).seq
    p = KeypointPipeline(SmoothingSettings(), fps=30)
    first = _run(p, noisy)
    p.reset()
    second = _run(p, noisy)
    fresh = _run(KeypointPipeline(SmoothingSettings(), fps=30), noisy)
    for a, b, c in zip(first, second, fresh, strict=True):
        np.testing.assert_array_equal(a[0], c[0])
        np.testing.assert_array_equal(b[0], c[0])
        assert a[2] == b[2] == c[2]


def test_pipeline_reduces_jitter_and_error() -> None:
    truth = dancer(300, seed=1)
    noisy = corrupt(truth, seed=1, jitter=0.05).seq
    out = np.array([k for k, _, _ in _run(KeypointPipeline(SmoothingSettings(), fps=30), noisy)])

    def accel(x: np.ndarray) -> float:
        d = np.diff(x[:, :, :2], 2, axis=0) - np.diff(truth[:, :, :2], 2, axis=0)
        return float(np.hypot(d[..., 0], d[..., 1]).mean())

    assert accel(out) < 0.5 * accel(noisy)
    errors = np.hypot(*(out[:, :, :2] - truth[:, :, :2]).transpose(2, 0, 1))
    assert errors.mean() < np.hypot(*(noisy[:, :, :2] - truth[:, :, :2]).transpose(2, 0, 1)).mean()


def test_offline_smoother_has_zero_lag_on_a_known_signal() -> None:
    t = np.arange(300) / 30
    x = 100 * np.sin(2 * np.pi * 0.7 * t) + 40 * np.sin(2 * np.pi * 1.9 * t + 1)
    rng = np.random.default_rng(0)
    seq = np.zeros((300, 17, 3))
    seq[:, :, 0] = x[:, None] + rng.normal(0, 3, (300, 17))
    seq[:, :, 1] = 50.0
    seq[:, :, 2] = 1.0
    out = smooth_offline(seq, fps=30, lam=5.0)
    assert abs(lag_frames(out[:, :1, :2], np.stack([x, np.full(300, 50.0)], 1)[:, None])) < 0.1
    assert np.abs(out[:, :, 0] - x[:, None]).mean() < 0.6 * np.abs(seq[:, :, 0] - x[:, None]).mean()


def test_offline_smoother_ignores_outliers_and_missing_samples() -> None:
    t = np.arange(200) / 30
    x = 100 * np.sin(2 * np.pi * 0.5 * t)
    seq = np.zeros((200, 17, 3))
    seq[:, :, 0] = x[:, None]
    seq[:, :, 2] = 1.0
    seq[50, 3, 0] += 150.0  # a confident outlier
    seq[100:110, 4, :] = [0.0, 0.0, 0.0]  # lost: zero confidence, garbage position
    seq[120, 5, 0] = np.nan
    out = smooth_offline(seq, fps=30, lam=5.0)
    assert np.isfinite(out).all()
    assert np.abs(out[:, :, 0] - x[:, None]).max() < 5.0


def test_offline_smoother_rejects_bad_shape() -> None:
    with pytest.raises(ValueError, match=r"\[T, J, 3\]"):
        smooth_offline(np.zeros((10, 17)), fps=30)


def test_non_finite_input_never_poisons_the_filter() -> None:
    truth = dancer(20)
    bad = truth.copy()
    bad[10, 4] = np.nan
    for settings in (SmoothingSettings(), SmoothingSettings(repair=False)):
        outs = _run(KeypointPipeline(settings, fps=30), bad)
        assert all(np.isfinite(k).all() for k, _, _ in outs)
        assert np.abs(outs[-1][0][4, :2] - truth[-1, 4, :2]).max() < 5.0


def test_offline_gap_at_the_end_stays_on_the_skeleton() -> None:
    truth = dancer(300, seed=3)
    seq = truth.copy()
    seq[240:, 9] = 0.0  # wrist lost for the last 2 s: zeros, as a backend reports it
    seq[100:160, 15] = 0.0  # ankle lost for 2 s mid-capture
    out = smooth_offline(seq, fps=30)
    errors = joint_errors(out, truth)
    assert errors[240:, 9].max() < 100.0  # a polynomial alone ran off by ~10,000 %
    assert errors[100:160, 15].mean() < 15.0
    unrepaired = smooth_offline(seq, fps=30, repair=False)
    assert joint_errors(unrepaired, truth)[240:, 9].max() > 10 * errors[240:, 9].max()


def test_complex_points_are_filtered_as_x_y_pairs() -> None:
    rng = np.random.default_rng(1)
    xy = rng.normal(0, 20, (40, 5, 2)).cumsum(axis=0)
    pairs, points = OneEuroFilter(0.5, 2.0, 1.0, fps=30), OneEuroFilter(0.5, 2.0, 1, fps=30)
    for i, frame in enumerate(xy):
        a = pairs(frame, i / 30, 50.0)
        b = points(frame[:, 0] + 1j * frame[:, 1], i / 30, 50.0)
        assert a.dtype == np.float64 and b.dtype == np.complex128 and b.shape == (5,)
        np.testing.assert_allclose(b.real, a[:, 0], rtol=1e-12)
        np.testing.assert_allclose(b.imag, a[:, 1], rtol=1e-12)


def test_integer_timestamps_and_inputs_filter_like_floats() -> None:
    a, b = OneEuroFilter(1, 1, 1, fps=30), OneEuroFilter(1.0, 1.0, 1.0, fps=30.0)
    for t in range(5):
        np.testing.assert_array_equal(
            a(np.full((2, 2), t * 3), t), b(np.full((2, 2), t * 3.0), float(t))
        )


def test_pipeline_follows_the_joint_count_of_each_frame() -> None:
    truth = dancer(90, seed=5)
    feet = np.repeat(truth[:, 15:17], 2, axis=1)
    p = KeypointPipeline(SmoothingSettings(), fps=30)
    for i in range(90):
        with_feet = 30 <= i < 60
        ext = feet[i] if with_feet else np.zeros((0, 3))
        kps, out_ext, mask = p.process(truth[i], ext, i / 30)
        assert kps.shape == (17, 3) and out_ext.shape == ((4, 3) if with_feet else (0, 3))
        assert np.isfinite(kps).all() and np.isfinite(out_ext).all()
        assert mask < (1 << 21 if with_feet else 1 << 17)
    assert np.abs(kps[:, :2] - truth[-1, :, :2]).max() < 10.0


def test_warm_up_leaves_running_pipelines_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    noisy = corrupt(dancer(40), seed=4, dropout_rate=0.05).seq
    a, b = KeypointPipeline(SmoothingSettings(), 30), KeypointPipeline(SmoothingSettings(), 30)
    for i, frame in enumerate(noisy):
        if i == 20:
            monkeypatch.setattr(edge.smoothing, "_warm", False)
            monkeypatch.setattr(edge.repair, "_warm", False)
            edge.smoothing.warm_up()
        ka, _, ma = a.process(frame, np.zeros((0, 3)), i / 30)
        kb, _, mb = b.process(frame, np.zeros((0, 3)), i / 30)
        np.testing.assert_array_equal(ka, kb)
        assert ma == mb
