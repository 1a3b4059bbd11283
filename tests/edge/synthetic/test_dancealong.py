"""The dance-along visitor: late, loose, own sway, now and then the wrong arm; the same
seed dances the same."""

from __future__ import annotations

import numpy as np
import pytest

from edge.synthetic.body import DOF, NEUTRAL
from edge.synthetic.dancealong import Imitation, _mirror_arms, dance_along
from edge.synthetic.dances import routine
from edge.synthetic.routines import ROUTINES

R = ROUTINES["wave-party"]
REF = routine(R.seed, R.bpm, R.moves)
T = np.arange(0, 18.0, 1 / 30)


def best_lag(a: np.ndarray, b: np.ndarray) -> float:
    """The delay (s) of ``b`` behind ``a`` that lines them up best."""
    lags = np.arange(0, 31)
    errors = [np.abs(a[: len(a) - k] - b[k:]).mean() for k in lags]
    return float(lags[int(np.argmin(errors))] / 30)


def test_the_same_seed_dances_the_same_and_another_seed_differently() -> None:
    a = dance_along(REF, 7, 18.0).sample(T)
    assert np.array_equal(a, dance_along(REF, 7, 18.0).sample(T))
    assert not np.allclose(a, dance_along(REF, 8, 18.0).sample(T))


def test_the_visitor_lags_150_to_400_ms_behind() -> None:
    arms = [DOF[n] for n in ("l_sh_abd", "r_sh_abd", "l_sh_flex", "r_sh_flex")]
    ref = REF.sample(T)[:, arms]
    for seed in range(5):
        lag = best_lag(ref, dance_along(REF, seed, 18.0).sample(T)[:, arms])
        assert 0.1 <= lag <= 0.45, (seed, lag)


def test_amplitude_stays_within_0_6_and_1_1_outside_skips() -> None:
    no_skips = Imitation(skip_share=0.0, wrong_arm_share=0.0, sway_m=(0.0, 0.0))
    ref = REF.sample(T) - NEUTRAL
    for seed in range(4):
        along = dance_along(REF, seed, 18.0, no_skips)
        # Undo the lag: the spline's keyframes are the imitation's own samples.
        moved = np.abs(along.poses[:, DOF["l_sh_abd"]] - NEUTRAL[DOF["l_sh_abd"]]).max()
        assert 0.55 * np.abs(ref[:, DOF["l_sh_abd"]]).max() <= moved
        assert moved <= 1.15 * np.abs(ref[:, DOF["l_sh_abd"]]).max()


def test_skips_wrong_arms_and_sway_are_there_over_a_long_dance() -> None:
    along = dance_along(REF, 3, 60.0, Imitation(skip_share=0.3, wrong_arm_share=0.2))
    clean = dance_along(REF, 3, 60.0, Imitation(skip_share=0.0, wrong_arm_share=0.0))
    t = np.arange(0, 60.0, 1 / 30)
    a, c = along.sample(t), clean.sample(t)
    assert (np.abs(a - c).max(axis=1) > 0.05).mean() > 0.1  # stretches that differ
    sway = a[:, DOF["pelvis_roll"]] - REF.sample(t)[:, DOF["pelvis_roll"]]
    assert sway.std() > 0.01  # their own rocking, whatever the reference does


def test_mirroring_swaps_the_arms() -> None:
    poses = REF.sample(T)
    mirrored = _mirror_arms(poses)
    assert np.array_equal(mirrored[:, DOF["l_elbow"]], poses[:, DOF["r_elbow"]])
    assert np.array_equal(_mirror_arms(mirrored), poses)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="duration"):
        dance_along(REF, 1, 0.0)
    with pytest.raises(ValueError, match="seeds"):
        dance_along(REF, -1, 5.0)
    with pytest.raises(ValueError, match="lag range"):
        Imitation(lag_s=(0.5, 0.1))
    with pytest.raises(ValueError, match="amplitude"):
        Imitation(amplitude=(0.0, 1.0))
