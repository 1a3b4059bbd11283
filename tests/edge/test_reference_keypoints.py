"""A reference dance's keypoints: the replay file, repair + smoothing of the sequence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.reference_keypoints import ReferenceBuildError, load_keypoints_file, repair_sequence
from edge.settings import SmoothingSettings
from edge.smoothing_metrics import mean_joint_error
from tests.edge.trajectories import corrupt, dancer


def test_clean_repairs_and_smooths_the_sequence() -> None:
    truth = dancer(150, seed=3)
    noisy = corrupt(truth, seed=3, outlier_rate=0.01, dropout_rate=0.01).seq.astype(np.float32)
    noisy[40:45] = 0.0  # the dancer was not found for 5 frames
    no_extras = np.zeros((150, 4, 3), np.float32)
    kps, extras, mask = repair_sequence(noisy, no_extras, 30.0, SmoothingSettings())
    imputed = float(mask[:, :17].mean())
    assert mask[:, 17:].all()  # no foot points from the backend: all guessed
    assert kps.shape == (150, 17, 3) and extras.shape == (150, 4, 3)
    assert np.isfinite(kps).all()
    assert mean_joint_error(kps, truth) < 0.6 * mean_joint_error(noisy, truth)
    assert 0.05 < imputed < 0.2


def test_keypoints_file_npy(tmp_path: Path) -> None:
    arr = dancer(10).astype(np.float32)
    np.save(tmp_path / "k.npy", arr)
    np.testing.assert_array_equal(load_keypoints_file(tmp_path / "k.npy"), arr)
    np.save(tmp_path / "bad.npy", np.zeros((10, 16, 3)))
    with pytest.raises(ReferenceBuildError, match="17 or 21"):
        load_keypoints_file(tmp_path / "bad.npy")
    (tmp_path / "junk.npy").write_text("junk")
    with pytest.raises(ReferenceBuildError, match="cannot read"):
        load_keypoints_file(tmp_path / "junk.npy")


def test_clean_marks_long_guesses_unseen() -> None:
    truth = dancer(120, seed=4).astype(np.float32)
    seen = truth.copy()
    seen[:, 13:17, 2] = 0.0  # legs never visible (a head-and-shoulders video)
    seen[50:55, 9] += (60.0, -60.0, -1.0)  # a wrist lost for 5 frames (v 0, elsewhere)
    no_extras = np.zeros((120, 4, 3), np.float32)
    kps, _, _ = repair_sequence(seen, no_extras, 30.0, SmoothingSettings())
    assert (kps[:, 13:17, 2] == 0).all()  # never seen: visibility 0 however repaired
    assert (kps[50:55, 9, 2] > 0.3).all()  # repaired over 5 frames between sure ones
    seen[:, 13:17, 2] = 0.02  # legs guessed with a steady hand but no confidence
    kps, _, _ = repair_sequence(seen, no_extras, 30.0, SmoothingSettings())
    assert (kps[:, 13:17, 2] <= 0.02).all()
