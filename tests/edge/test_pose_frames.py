"""``dancebooth edge pose-frames``: BlazePose on an .npz of frames, one JSON answer; a bad
request is answered with an error, not a crash (the cloud's child keeps serving)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edge.pose.base import PoseError
from edge.pose.models import FETCH_HINT, model_path
from edge.pose_frames import answer, estimate_frames, gate_settings, pose_frames
from tests.services import missing


@pytest.fixture(scope="module")
def models() -> None:
    try:
        model_path("pose_detection.tflite")
        model_path("pose_landmark_full.tflite")
    except PoseError:
        missing("the BlazePose models", FETCH_HINT)


def test_an_empty_frame_has_nobody_and_the_command_prints_one_answer(
    models: None, tmp_path: Path
) -> None:
    path = tmp_path / "f.npz"
    np.savez(path, frames=np.full((2, 64, 64, 3), 128, np.uint8), index=np.array([0, 1]))
    out = CliRunner().invoke(pose_frames, [str(path)])
    assert out.exit_code == 0, out.output
    event = json.loads(out.output.strip().splitlines()[-1])
    assert event["event"] == "result" and event["keypoints"] == [None, None]


def test_a_bad_request_is_answered_with_what_is_wrong(models: None, tmp_path: Path) -> None:
    from edge.pose import build_estimator

    bad = tmp_path / "bad.npz"
    np.savez(bad, frames=np.zeros((2, 8, 8), np.uint8), index=np.array([0, 1]))
    with build_estimator(gate_settings()) as est:
        assert "uint8 BGR frames" in (answer(bad, est).message or "")
        assert answer(tmp_path / "missing.npz", est).event == "error"
        no_index = tmp_path / "no_index.npz"
        np.savez(no_index, frames=np.zeros((1, 8, 8, 3), np.uint8))
        assert "index" in (answer(no_index, est).message or "")


def test_the_command_needs_a_path_or_serve() -> None:
    out = CliRunner().invoke(pose_frames, [])
    assert out.exit_code == 2 and "--serve" in out.output


def test_frame_numbers_must_match_the_frames() -> None:
    with pytest.raises(ValueError, match="2 frames but 1 frame numbers"):
        estimate_frames(np.zeros((2, 8, 8, 3), np.uint8), [0])
