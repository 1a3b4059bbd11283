"""The noise model produces the rates it is configured with."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from edge.synthetic.noise import NoiseModel
from edge.synthetic.visitor import make_visitor
from protocol.skeleton import FLIP, torso_length

MODEL = NoiseModel(
    jitter=0.02,
    outlier_rate=0.02,
    outlier_scale=0.8,
    dropout_rate=0.01,
    dropout_frames=5.0,
    dropout_confidence=0.1,
    swap_rate=0.02,
    confidence=0.85,
    confidence_spread=0.05,
)


def _truth(frames: int) -> np.ndarray:
    # A real dance, everything marked visible so hidden-joint confidence stays out of the way.
    kp = make_visitor(1).keypoints(256, 256, 30, frames / 30)
    kp[..., 2] = 1.0
    return kp


@pytest.fixture(scope="module")
def noisy() -> tuple[np.ndarray, np.ndarray]:
    truth = _truth(6000)
    return truth, MODEL.apply(truth, seed=3)


def test_rates_match_the_configuration(noisy: tuple[np.ndarray, np.ndarray]) -> None:
    truth, out = noisy
    scale = np.array([torso_length(f) for f in truth])[:, None]
    flipped = truth[:, list(FLIP)]
    err = np.linalg.norm(out[..., :2] - truth[..., :2], axis=-1) / scale
    err_flip = np.linalg.norm(out[..., :2] - flipped[..., :2], axis=-1) / scale
    swapped = np.median(err_flip, axis=1) < np.median(err, axis=1)
    assert swapped.mean() == pytest.approx(MODEL.swap_rate, abs=0.006)
    err = np.where(swapped[:, None], err_flip, err)  # judge swapped frames in their own labels
    dropped = out[..., 2] < MODEL.dropout_confidence
    # Dropouts: burst starts among joints not already in a burst, and mean burst length.
    starts = dropped[1:] & ~dropped[:-1]
    assert starts.sum() / (~dropped[:-1]).sum() == pytest.approx(MODEL.dropout_rate, rel=0.2)
    assert dropped.sum() / starts.sum() == pytest.approx(MODEL.dropout_frames, rel=0.2)
    good = ~dropped
    outlier = good & (err > 0.3)  # outliers move >= 0.4 torso; jitter 0.02 never gets there
    assert outlier.sum() / good.sum() == pytest.approx(MODEL.outlier_rate, rel=0.15)
    inlier = good & ~outlier
    jitter = (out[..., :2] - np.where(swapped[:, None, None], flipped, truth)[..., :2]) / scale[
        ..., None
    ]
    assert jitter[inlier].std() == pytest.approx(MODEL.jitter, rel=0.05)
    conf = out[..., 2][good]
    assert conf.mean() == pytest.approx(MODEL.confidence, abs=0.01)
    assert conf.std() == pytest.approx(MODEL.confidence_spread, rel=0.1)
    assert out[..., 2].min() >= 0 and out[..., 2].max() <= 1


def test_hidden_joints_get_low_confidence() -> None:
    truth = _truth(300)
    truth[:, 9, 2] = 0.0
    out = NoiseModel(dropout_rate=0.0, swap_rate=0.0).apply(truth, seed=0)
    assert out[:, 9, 2].max() <= 0.3 and out[:, 10, 2].mean() > 0.7


def test_stream_is_apply_frame_by_frame_and_deterministic() -> None:
    truth = _truth(200)
    s = MODEL.stream(seed=9)
    online = np.stack([s(f) for f in truth])
    np.testing.assert_array_equal(online, MODEL.apply(truth, seed=9))
    assert MODEL.apply(truth, seed=9).tobytes() == MODEL.apply(truth, seed=9).tobytes()
    assert not np.array_equal(MODEL.apply(truth, seed=9), MODEL.apply(truth, seed=10))


def test_zero_noise_is_exact_truth_with_full_confidence() -> None:
    truth = _truth(50)
    zero = NoiseModel(
        jitter=0, outlier_rate=0, dropout_rate=0, swap_rate=0, confidence=1, confidence_spread=0
    )
    out = zero.apply(truth, seed=0)
    np.testing.assert_allclose(out[..., :2], truth[..., :2], atol=1e-4)
    assert (out[..., 2] == 1).all()


def test_extras_follow_the_frame_swap_and_ankle_dropouts() -> None:
    v = make_visitor(0)
    truth, extras = v.keypoints(256, 256, 30, 2), v.extras(256, 256, 30, 2)
    s = NoiseModel(swap_rate=1.0, dropout_rate=0.0).stream(0)
    s(truth[0])
    e = s.extras(extras[0])
    assert e.shape == (4, 3)
    assert np.linalg.norm(e[0, :2] - extras[0, 1, :2]) < np.linalg.norm(e[0, :2] - extras[0, 0, :2])


def test_bad_configuration_and_input_are_refused() -> None:
    with pytest.raises(ValidationError):
        NoiseModel(jiter=0.1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        NoiseModel(outlier_rate=1.5)
    with pytest.raises(ValueError, match="17"):
        MODEL.apply(np.zeros((5, 16, 3)), seed=0)
    s = MODEL.stream(0)
    with pytest.raises(ValueError, match="finite"):
        s(np.full((17, 3), np.nan))
