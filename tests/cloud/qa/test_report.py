"""Capture QA on the synthetic booth's kinds of visitor: the ones QA must flag, flagged
for the right reason; a visitor who danced along, passed."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from cloud.qa.poses import PoseScoreError
from cloud.qa.report import NodeClip, QaReport, assess
from cloud.settings import CaptureQaSettings
from common.reference import load_reference
from edge.synthetic.captures import SyntheticCapture, synthetic_capture

DANCE = "wave-party"
Q = CaptureQaSettings()


@cache
def capture(kind: str, seed: int = 3) -> SyntheticCapture:
    # Guided capture lasts the dance: the whole reference can be covered.
    return synthetic_capture(
        kind, DANCE, seed, duration_s=load_reference(DANCE).duration_s, jpegs=4
    )


def clip(c: SyntheticCapture, keypoints: np.ndarray | None = None) -> NodeClip:
    kps = c.keypoints if keypoints is None else keypoints
    return NodeClip("node1", kps, c.width, c.height, c.jpegs, c.jpeg_frames)


def run(c: SyntheticCapture, keypoints: np.ndarray | None = None) -> QaReport:
    return assess([clip(c, keypoints)], load_reference(DANCE).keypoints, Q, DANCE)


def test_a_visitor_who_danced_along_passes() -> None:
    report = run(capture("along"))
    assert report.passed, report.reasons
    assert report.coverage is not None and report.coverage >= Q.min_coverage
    assert report.to_json()["passed"] is True


def test_a_visitor_standing_still_is_told_to_move() -> None:
    report = run(capture("still"))
    assert not report.passed
    assert any("hardly any movement" in r for r in report.reasons)
    assert any("covered" in r for r in report.reasons)


def test_a_visitor_cut_off_at_the_knees_is_told_to_step_back() -> None:
    report = run(capture("knees"))
    assert not report.passed
    assert any("whole body" in r for r in report.reasons)
    assert any("feet" in r for r in report.reasons)
    # Without ankles there is no floor line: coverage is measured anyway, and says how.
    assert any("torso only" in n for n in report.nodes[0].notes)


def test_a_visitor_dancing_another_routine_is_told_to_dance_along() -> None:
    report = run(capture("other"))
    assert not report.passed
    assert [r for r in report.reasons if "covered" in r] == report.reasons
    assert report.coverage is not None
    assert report.coverage < run(capture("along")).coverage  # type: ignore[operator]


def test_frames_without_keypoints_are_left_out_and_the_report_says_so() -> None:
    c = capture("along")
    kps = c.keypoints.copy()
    kps[::10, :, 2] = 0.0  # every tenth frame: nobody found
    report = run(c, kps)
    node = report.nodes[0]
    assert node.poses is not None and node.poses.scored == len(kps) - len(kps[::10])
    assert any(f"scored on the {node.poses.scored} of {len(kps)} frames" in n for n in node.notes)
    assert report.passed, report.reasons  # 90 % found is above min_pose_frames


def test_a_capture_with_nobody_in_it_gets_that_as_its_reason() -> None:
    c = capture("along")
    kps = c.keypoints.copy()
    kps[..., 2] = 0.0
    report = run(c, kps)
    assert not report.passed
    assert "nobody was in front of the cameras" in report.reasons[0]


def test_several_nodes_name_the_node_in_each_reason() -> None:
    good, bad = capture("along"), capture("knees")
    report = assess(
        [clip(good), NodeClip("cam-low", bad.keypoints, bad.width, bad.height)],
        load_reference(DANCE).keypoints,
        Q,
    )
    assert report.reasons and all(r.startswith("cam-low: ") for r in report.reasons)


def test_no_reference_scores_everything_but_coverage() -> None:
    report = assess([clip(capture("along"))], None, Q)
    assert report.passed and report.coverage is None


def test_bad_input_is_refused_with_a_clear_error() -> None:
    with pytest.raises(PoseScoreError, match="no frames"):
        assess([], None, Q)
    c = capture("along")
    with pytest.raises(PoseScoreError, match=r"reference: need \[T, 17, 3\]"):
        assess([clip(c)], np.zeros((4, 3)), Q)
    # A node's unreadable keypoints are that node's reason; the others are still scored.
    odd = NodeClip("odd", np.zeros((5, 12, 3), np.float32), 640, 480)
    report = assess([clip(c), odd], None, Q)
    assert report.reasons == ["odd: capture: need [T, 17, 3] keypoints, got (5, 12, 3)"]
    report = assess([NodeClip("n", c.keypoints, 0, 480)], None, Q)
    assert "image size must be positive" in report.reasons[0]
