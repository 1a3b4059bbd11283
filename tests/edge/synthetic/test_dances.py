"""Routines are beat-aligned and deterministic; free-style is neither beat-bound nor repeated."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge.synthetic.body import DOF
from edge.synthetic.dances import freestyle, routine
from edge.synthetic.moves import MOVES


def test_routine_keyframes_sit_on_half_beats() -> None:
    c = routine(4, 100, ["sway", "arm_wave:l", "spin:r", "kick"])
    half = 60 / 100 / 2
    np.testing.assert_allclose(np.round(c.times / half) * half, c.times, atol=1e-9)
    assert c.bpm == 100


def test_spin_turns_all_the_way_round_and_mirrors() -> None:
    left = routine(0, 120, ["spin:l"])
    right = routine(0, 120, ["spin:r"])
    yaw_l, yaw_r = left.poses[:, DOF["yaw"]], right.poses[:, DOF["yaw"]]
    assert yaw_l[-1] == pytest.approx(2 * math.pi) and yaw_r[-1] == pytest.approx(-2 * math.pi)


def test_routines_deterministic_and_seed_dependent() -> None:
    moves = list(MOVES)
    a, b, c = routine(1, 110, moves), routine(1, 110, moves), routine(2, 110, moves)
    np.testing.assert_array_equal(a.poses, b.poses)
    assert not np.array_equal(a.poses, c.poses)


def test_freestyle_is_off_the_grid_and_differs_per_visitor() -> None:
    a, b = freestyle(1, 15), freestyle(2, 15)
    assert a.duration >= 15 and a.bpm is None
    gaps = np.diff(a.times)
    assert gaps.std() > 0.1  # irregular timing, unlike a routine's beat grid
    t = np.arange(0, 15, 0.1)
    assert np.abs(a.sample(t) - b.sample(t)).mean() > 0.1


def test_bad_routines_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown move"):
        routine(0, 120, ["moonwalk"])
    with pytest.raises(ValueError, match="bpm"):
        routine(0, 400, ["sway"])
    with pytest.raises(ValueError, match="side"):
        routine(0, 120, ["sway:x"])


def test_slide_travels_toward_the_leading_arm() -> None:
    left, right = routine(0, 120, ["slide:l"]), routine(0, 120, ["slide:r"])
    x = DOF["root_x"]
    assert left.poses[:, x].max() > 0.5 and right.poses[:, x].min() < -0.5
