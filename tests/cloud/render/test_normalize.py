"""Pose normalisation on skeletons whose floor position and height are known."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.render.normalize import (
    NormalizationError,
    body_heights,
    fit_depth_range,
    normalize_dance,
)
from protocol.skeleton import KP
from tests.cloud.render.skeletons import standing, walk


def _back_and_forth(far: tuple[float, float], close: tuple[float, float], x: float = 300.0):
    """40 frames at the far end, 21 walking, 40 at the close end: (y, h) at each end."""
    ys = np.r_[np.full(40, far[0]), np.linspace(far[0], close[0], 21), np.full(40, close[0])]
    hs = np.r_[np.full(40, far[1]), np.linspace(far[1], close[1], 21), np.full(40, close[1])]
    return walk(np.full(len(ys), x), ys, hs)


def _ankle_y(kps: np.ndarray) -> np.ndarray:
    return kps[:, [KP["left_ankle"], KP["right_ankle"]], 1].mean(axis=1)


SOURCE = _back_and_forth((200.0, 100.0), (300.0, 150.0))
TARGET = _back_and_forth((250.0, 90.0), (350.0, 120.0), x=150.0)


def test_depth_range_finds_the_ends_and_heights() -> None:
    r = fit_depth_range(SOURCE)
    assert not r.collapsed
    assert (r.far_y, r.close_y) == pytest.approx((200.0, 300.0))
    assert (r.far_height, r.close_height) == pytest.approx((100.0, 150.0))
    assert r.center_x == pytest.approx(300.0)


def test_ends_map_onto_the_visitors_ends() -> None:
    out, _, fit = normalize_dance(SOURCE, TARGET)
    h = body_heights(out)
    assert _ankle_y(out)[0] == pytest.approx(250.0, abs=1e-3)
    assert h[0] == pytest.approx(90.0, abs=1e-3)
    assert _ankle_y(out)[-1] == pytest.approx(350.0, abs=1e-3)
    assert h[-1] == pytest.approx(120.0, abs=1e-3)
    # Halfway: ankle halfway, scale halfway between 0.9 and 0.8 of the source's 125 px.
    assert _ankle_y(out)[50] == pytest.approx(300.0, abs=1e-3)
    assert h[50] == pytest.approx(0.85 * 125.0, abs=1e-3)
    assert out[:, [KP["left_ankle"], KP["right_ankle"]], 0].mean() == pytest.approx(150.0)
    assert not fit.target.collapsed


def test_visitor_on_one_spot_gets_one_size_and_floor_line() -> None:
    rng = np.random.default_rng(0)
    n = 150
    ys = 320.0 + rng.uniform(-1, 1, n)
    visitor = walk(np.full(n, 200.0), ys, np.full(n, 110.0))
    out, _, fit = normalize_dance(SOURCE, visitor)
    assert fit.target.collapsed
    h = body_heights(out)
    assert np.allclose(_ankle_y(out), np.median(ys), atol=1e-3)
    assert h[0] == pytest.approx(110.0, abs=1e-3)
    assert h[-1] == pytest.approx(110.0, abs=1e-3)
    assert np.all(np.abs(h - 110.0) < 0.05 * 110.0)


def test_reference_on_one_spot_uses_one_global_scale() -> None:
    ref = walk(np.full(60, 300.0), np.full(60, 250.0), np.full(60, 100.0))
    out, _, fit = normalize_dance(ref, TARGET)
    assert fit.source.collapsed
    h = body_heights(out)
    # The single reference depth maps to where the visitor began (TARGET starts at its
    # far end), at their size there: one scale for the whole dance.
    assert np.allclose(_ankle_y(out), 250.0, atol=1e-3)
    assert np.allclose(h, 90.0, atol=1e-3)


def test_reference_on_one_spot_is_danced_on_the_visitors_mark_not_mid_range() -> None:
    # The visitor starts on the mark near the camera, then wanders back and stays there
    # a while: the middle (or median) of their range is where they hardly danced.
    ref = walk(np.full(60, 300.0), np.full(60, 250.0), np.full(60, 100.0))
    ys = np.r_[np.full(30, 350.0), np.linspace(350.0, 250.0, 21), np.full(60, 250.0)]
    hs = np.r_[np.full(30, 120.0), np.linspace(120.0, 90.0, 21), np.full(60, 90.0)]
    visitor = walk(np.full(len(ys), 150.0), ys, hs)
    out, _, fit = normalize_dance(ref, visitor)
    assert fit.source.collapsed and not fit.target.collapsed
    assert fit.target.home_y == pytest.approx(350.0)
    assert np.allclose(_ankle_y(out), 350.0, atol=1e-3)
    assert np.allclose(body_heights(out), 120.0, atol=1e-3)


def test_a_jump_stays_a_jump_of_the_right_size() -> None:
    ref = SOURCE.copy()
    ref[5] = standing(300.0, 180.0, 100.0)  # 20 px above the far end: a jump
    out, _, _ = normalize_dance(ref, TARGET)
    assert _ankle_y(out)[5] == pytest.approx(250.0 - 20.0 * 0.9, abs=1e-3)
    assert body_heights(out)[5] == pytest.approx(90.0, abs=1e-3)


def test_one_bad_detection_does_not_move_the_range() -> None:
    ref = SOURCE.copy()
    ref[3] = standing(300.0, 700.0, 400.0)
    r = fit_depth_range(ref)
    assert (r.far_y, r.close_y) == pytest.approx((200.0, 300.0))


def test_unseen_ankles_are_interpolated_and_ignored_by_the_fit() -> None:
    ref = SOURCE.copy()
    ref[50, [KP["left_ankle"], KP["right_ankle"]]] = (0.0, 0.0, 0.0)
    out, _, _ = normalize_dance(ref, TARGET)
    # The frame's floor line is interpolated from its neighbours: knees land where expected.
    knees = out[50, [KP["left_knee"], KP["right_knee"]], 1].mean()
    assert knees == pytest.approx(300.0 - 0.27 * 0.85 * 125.0, abs=0.5)
    assert np.isfinite(out).all()


def test_extras_follow_the_body() -> None:
    extras = SOURCE[:, [KP["left_ankle"], KP["right_ankle"], KP["left_ankle"], KP["right_ankle"]]]
    out, ex, _ = normalize_dance(SOURCE, TARGET, extras=extras)
    assert ex is not None
    assert np.allclose(ex[:, :2], out[:, [KP["left_ankle"], KP["right_ankle"]]], atol=1e-4)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((10, 16, 3)), np.zeros((0, 17, 3)), np.zeros((17, 3))],
    ids=["16-joints", "empty", "no-time-axis"],
)
def test_wrong_shapes_are_clear_errors(bad: np.ndarray) -> None:
    with pytest.raises(NormalizationError, match="expected"):
        normalize_dance(bad, TARGET)


def test_no_visible_ankles_is_a_clear_error() -> None:
    blind = TARGET.copy()
    blind[:, [KP["left_ankle"], KP["right_ankle"]], 2] = 0.0
    with pytest.raises(NormalizationError, match="ankles"):
        normalize_dance(SOURCE, blind)


def test_a_dance_mapped_onto_its_own_dancer_is_unchanged() -> None:
    out, _, _ = normalize_dance(SOURCE, SOURCE)
    assert np.allclose(out, SOURCE, atol=1e-3)


@given(
    scale=st.floats(0.3, 3.0),
    dx=st.floats(-500, 500),
    dy=st.floats(-500, 500),
)
def test_moving_and_resizing_the_visitor_moves_and_resizes_the_result(
    scale: float, dx: float, dy: float
) -> None:
    base, _, _ = normalize_dance(SOURCE, TARGET)
    moved = TARGET.copy()
    moved[..., 0] = TARGET[..., 0] * scale + dx
    moved[..., 1] = TARGET[..., 1] * scale + dy
    out, _, _ = normalize_dance(SOURCE, moved)
    assert np.allclose(out[..., 0], base[..., 0] * scale + dx, atol=1e-2 * max(scale, 1))
    assert np.allclose(out[..., 1], base[..., 1] * scale + dy, atol=1e-2 * max(scale, 1))


def test_a_hop_in_a_dance_on_one_spot_is_kept() -> None:
    ref = walk(np.full(60, 300.0), np.full(60, 250.0), np.full(60, 100.0))
    ref[30] = standing(300.0, 240.0, 100.0)  # a 10 px hop
    out, _, fit = normalize_dance(ref, TARGET)
    assert fit.source.collapsed
    assert _ankle_y(out)[30] == pytest.approx(250.0 - 10.0 * 0.9, abs=1e-3)
    assert _ankle_y(out)[29] == pytest.approx(250.0, abs=1e-3)
