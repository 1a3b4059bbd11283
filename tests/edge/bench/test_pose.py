"""The pose benchmark runs end to end and prints its figures (numbers are not asserted)."""

from __future__ import annotations

from pathlib import Path

import click
import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from edge.bench.pose import bench_pose, run_pipeline, swaying_frames, video_frames
from edge.pose.models import FETCH_HINT, model_path
from tests.edge.pose.test_tracking import Scripted, person
from tests.services import missing


def test_swaying_frames_move() -> None:
    frames = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) for j in swaying_frames(8)]
    assert frames[0].shape == (480, 640, 3)
    assert np.abs(frames[0].astype(int) - frames[7].astype(int)).mean() > 5  # it moves


def test_run_pipeline_counts_every_stage() -> None:
    jpegs = swaying_frames(6)
    est = Scripted([[person(320, 40, 400)]] * 6)
    run = run_pipeline(est, jpegs, None, "scripted", warmup=2)
    assert run.frames == 6 and run.people == 6
    assert set(run.stage_s) == {"decode", "pose", "track", "smooth", "mask"}
    assert run.wall_s >= sum(run.stage_s.values()) * 0.99


def test_cli_prints_blazepose_figures() -> None:
    try:
        model_path("pose_landmark_full.tflite")
    except Exception:
        missing("the BlazePose models", FETCH_HINT)
    result = CliRunner().invoke(bench_pose, ["--frames", "20", "--warmup", "2"])
    assert result.exit_code == 0, result.output
    assert "blazepose" in result.output and "fps" in result.output
    assert "overhead" in result.output


def test_frames_from_a_video_file(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    for i in range(5):
        writer.write(np.full((240, 320, 3), 40 * i, np.uint8))
    writer.release()
    jpegs = video_frames(path, 10, 640, 480, 80)
    assert len(jpegs) == 5
    assert cv2.imdecode(np.frombuffer(jpegs[0], np.uint8), cv2.IMREAD_COLOR).shape == (480, 640, 3)
    not_video = tmp_path / "x.avi"
    not_video.write_text("nope")
    with pytest.raises(click.ClickException, match="no frames"):
        video_frames(not_video, 10, 640, 480, 80)


def test_cli_runs_corals_models_from_the_cache_and_skips_an_unusable_edgetpu(
    coral_cache: Path,
) -> None:
    base = ["--frames", "3", "--warmup", "1", "--threads", "1", "--model-dir", str(coral_cache)]
    result = CliRunner().invoke(bench_pose, [*base, "--backend", "movenet", "--size", "320x240"])
    assert result.exit_code == 0, result.output
    assert "movenet cpu threads=1 movenet_single_pose_lightning_ptq.tflite" in result.output
    assert "fps" in result.output
    # No Edge TPU here: the probe says so and the run is skipped, not crashed.
    tpu = CliRunner().invoke(bench_pose, [*base, "--backend", "movenet", "--device", "edgetpu"])
    assert tpu.exit_code == 0, tpu.output
    assert "skipped: Edge TPU unusable" in tpu.output
    bad = CliRunner().invoke(bench_pose, [*base, "--size", "wide"])
    assert bad.exit_code != 0 and "WIDTHxHEIGHT" in bad.output
