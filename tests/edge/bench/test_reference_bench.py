"""``dancebooth bench reference`` runs and prints add time next to raw pose time."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from dancebooth.cli import cli


@pytest.mark.slow
def test_bench_reference_prints_add_and_raw_pose_per_minute() -> None:
    from edge.pose.base import PoseError
    from edge.pose.models import FETCH_HINT, model_path
    from tests.services import missing

    try:
        model_path("pose_detection.tflite")
        model_path("pose_landmark_full.tflite")
    except PoseError:
        missing("the BlazePose models", FETCH_HINT)
    args = ["bench", "reference", "--seconds", "2", "--size", "320x240"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "machine:" in result.output and "load average" in result.output
    assert "s per minute of video" in result.output and "add / raw =" in result.output
    assert "dancer found in 100% of frames" in result.output
