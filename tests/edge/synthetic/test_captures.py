"""Synthetic captures for capture QA: what each kind of visitor looks like to a node."""

from __future__ import annotations

import numpy as np
import pytest

from edge.synthetic.captures import synthetic_capture


def test_a_capture_has_keypoints_per_frame_and_the_asked_jpegs() -> None:
    c = synthetic_capture("along", "disco-steps", 1, duration_s=2.0, jpegs=3)
    assert c.keypoints.shape == (60, 17, 3)
    assert c.jpeg_frames == (0, 30, 59) and all(j[:2] == b"\xff\xd8" for j in c.jpegs)


def test_the_knee_camera_loses_the_ankles() -> None:
    knees = synthetic_capture("knees", "disco-steps", 1, duration_s=2.0, jpegs=0)
    assert (knees.keypoints[:, 15:17, 2] < 0.3).all()
    assert knees.jpegs == () and knees.jpeg_frames == ()


def test_standing_still_barely_moves() -> None:
    still = synthetic_capture("still", "disco-steps", 1, duration_s=2.0, jpegs=0)
    wrists = still.keypoints[:, 9:11, :2]
    assert np.median(np.abs(wrists - np.median(wrists, axis=0))) < 3.0


def test_unknown_kinds_and_dances_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown capture kind 'jump'"):
        synthetic_capture("jump", "disco-steps")
    with pytest.raises(ValueError, match="no shipped routine 'tango'"):
        synthetic_capture("along", "tango")
