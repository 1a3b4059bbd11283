"""Oversampling the captured frames nearest to the reference's poses."""

from __future__ import annotations

import numpy as np
import torch

from cloud.qa.poses import reference_matches
from cloud.training.data import FrameSet
from cloud.training.emphasis import MAX_EXTRA, oversample_near
from common.reference import load_reference


def _frameset(keypoints: np.ndarray) -> FrameSet:
    n, r = len(keypoints), 4
    pixels = torch.zeros((n, 3, r, r), dtype=torch.uint8)
    return FrameSet(
        r,
        pixels,
        pixels.clone(),
        pixels.clone(),
        torch.as_tensor(keypoints, dtype=torch.float32),
        torch.zeros((n, 4)),
        torch.arange(n),
        list(range(n)),
        ["clip"] * n,
        torch.zeros((n, 1, r, r), dtype=torch.uint8),
        torch.ones(n, dtype=torch.bool),
    )


def test_the_poses_the_reference_shows_are_the_ones_counted() -> None:
    dance = load_reference("disco-steps").keypoints
    other = load_reference("spin-groove").keypoints
    # A capture that danced the first half of the dance, then another routine.
    capture = np.concatenate([dance[:300], other[:300]])
    counts = reference_matches(capture, dance[:300], match_distance=0.3)
    assert counts.shape == (600,)
    assert counts[:300].sum() > 5 * counts[300:].sum()
    assert (counts[:300] > 0).mean() > 0.5  # spread over the dance, not one pose


def test_oversampling_repeats_the_nearest_frames_a_bounded_number_of_times() -> None:
    dance = load_reference("disco-steps").keypoints
    train = _frameset(dance[:200])
    counts = np.minimum(reference_matches(dance[:200], dance), MAX_EXTRA)
    out = oversample_near(train, dance)
    assert len(out) == 200 + int(counts.sum())
    assert out.seqs[:200] == list(range(200))  # every frame once, then the extra copies
    extra = np.bincount(out.seqs[200:], minlength=200)
    assert (extra == counts).all() and extra.max() <= MAX_EXTRA
