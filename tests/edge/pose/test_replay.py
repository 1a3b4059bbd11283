"""The replay backend: ground truth through the noise model, behind the pose interface."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.frames import Frame
from edge.pose import BACKENDS, create_estimator
from edge.pose.base import PoseError
from edge.pose.replay import ReplayEstimator
from edge.settings import EdgeSettings, ReplaySettings
from edge.synthetic.noise import NoiseModel
from edge.synthetic.visitor import make_visitor


def _frames(n: int = 30) -> list[Frame]:
    v = make_visitor(4)
    kp, ex = v.keypoints(256, 256, 30, n / 30), v.extras(256, 256, 30, n / 30)
    img = np.zeros((256, 256, 3), np.uint8)
    return [Frame(i, i, img, truth=kp[i], truth_extras=ex[i]) for i in range(n)]


def test_registered_and_built_from_settings() -> None:
    assert BACKENDS["replay"] == "edge.pose.replay:ReplayEstimator"
    est = create_estimator(EdgeSettings().pose)
    assert isinstance(est, ReplayEstimator)


def test_noisy_people_near_the_truth() -> None:
    frames = _frames()
    with ReplayEstimator(ReplaySettings(seed=1)) as est:
        people = [est.estimate(f) for f in frames]
    kps = np.stack([p[0].keypoints for p in people])
    truth = np.stack([f.truth for f in frames if f.truth is not None])
    assert kps.shape == truth.shape and people[0][0].extras.shape == (4, 3)
    err = np.median(np.linalg.norm(kps[..., :2] - truth[..., :2], axis=-1))
    assert 0.1 < err < 5.0  # jittered, not copied and not lost
    assert 0 < people[0][0].score <= 1


def test_noise_off_returns_truth() -> None:
    f = _frames(1)[0]
    (person,) = ReplayEstimator(ReplaySettings(noise=False)).estimate(f)
    assert f.truth is not None
    np.testing.assert_array_equal(person.keypoints, f.truth)


def test_each_capture_gets_its_own_reproducible_noise() -> None:
    frames = _frames(5)

    def run(est: ReplayEstimator) -> np.ndarray:
        return np.stack([est.estimate(f)[0].keypoints for f in frames])

    a, b = ReplayEstimator(ReplaySettings(seed=2)), ReplayEstimator(ReplaySettings(seed=2))
    first = run(a)
    np.testing.assert_array_equal(first, run(b))
    a.reset()
    assert not np.array_equal(first, run(a))


def test_frame_without_truth_is_a_clear_error() -> None:
    est = ReplayEstimator(ReplaySettings())
    with pytest.raises(PoseError, match="synthetic source"):
        est.estimate(Frame(0, 0, np.zeros((8, 8, 3), np.uint8)))
    with pytest.raises(PoseError, match="finite"):
        est.estimate(
            Frame(1, 0, np.zeros((8, 8, 3), np.uint8), truth=np.full((17, 3), np.nan, np.float32))
        )
    # The estimator keeps working after bad input.
    assert est.estimate(_frames(1)[0])


def test_settings_take_noise_rates_and_reject_typos() -> None:
    s = ReplaySettings.model_validate({"rates": {"jitter": 0.05, "swap_rate": 0.0}, "seed": 4})
    assert s.rates == NoiseModel(jitter=0.05, swap_rate=0.0)
    with pytest.raises(ValueError):
        ReplaySettings.model_validate({"rates": {"jitterr": 0.05}})


def test_replay_configured_from_yaml_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from protocol.settings import ConfigError, load_settings

    cfg = tmp_path / "edge.yaml"
    cfg.write_text("pose:\n  type: replay\n  seed: 3\n  rates:\n    outlier_rate: 0.05\n")
    monkeypatch.setenv("DANCEBOOTH_EDGE_POSE__RATES__JITTER", "0.04")
    s = load_settings(EdgeSettings, cfg)
    assert isinstance(s.pose, ReplaySettings)
    assert (s.pose.seed, s.pose.rates.outlier_rate, s.pose.rates.jitter) == (3, 0.05, 0.04)
    cfg.write_text("pose:\n  type: replay\n  rates:\n    swap_rate: 2\n")
    with pytest.raises(ConfigError, match="swap_rate"):
        load_settings(EdgeSettings, cfg)


def test_replay_passes_the_renderers_exact_mask_through() -> None:
    frames = list(make_visitor(4).frames(160, 120, 10, 0.3, masks=True))
    with ReplayEstimator(ReplaySettings(seed=1)) as est:
        for f in frames:
            (p,) = est.estimate(f)
            assert p.mask is f.truth_mask and p.mask is not None and p.mask.shape == (96, 128)
        (p,) = est.estimate(_frames(1)[0])  # a frame without a mask: none
        assert p.mask is None
