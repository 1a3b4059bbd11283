"""``dancebooth demo --video`` with a video in which nobody dances (the booth empty, as a
street where nobody stops): the quality gate holds it, the demo says so with the reason,
and no email goes out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cloud.mqtt.broker import free_port
from edge.pose.base import PoseError
from edge.pose.models import FETCH_HINT, model_path
from edge.synthetic.background import background_plate
from tests.edge.videos import write_video
from tests.services import REPO, missing


def empty_booth_video(path: Path, seconds: float = 8.0, fps: int = 15) -> Path:
    """The synthetic booth with nobody in it, with a camera's noise."""
    rng = np.random.default_rng(0)
    plate = background_plate(640, 480).astype(np.int16)
    images = [
        np.clip(plate + rng.normal(0, 3, plate.shape), 0, 255).astype(np.uint8)
        for _ in range(round(seconds * fps))
    ]
    return write_video(path, fps=fps, images=images, audio=None)


@pytest.mark.slow
@pytest.mark.timeout(1500)  # a whole booth: minutes when the machine is shared
def test_a_video_where_nobody_dances_ends_held_for_review_with_the_reason(
    tmp_path: Path,
) -> None:
    try:
        model_path("pose_detection.tflite")
        model_path("pose_landmark_full.tflite")
    except PoseError:
        missing("the BlazePose models", FETCH_HINT)
    video = empty_booth_video(tmp_path / "empty.mp4")
    demo = tmp_path / "demo"
    args = ["--video", str(video), "--once", "--capture", "5", "--budget", "10"]
    args += ["--dir", str(demo), "--port", str(free_port()), "--timeout", "1300"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "dancebooth", "demo", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1400,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 3, out[-4000:]  # held for review, not an error
    assert "held for review" in out and "no dancer" in out, out[-4000:]
    (held,) = json.loads((demo / "deliveries.json").read_text())
    assert "no dancer" in held["held_for_review"]
    assert not list((demo / "outbox").glob("*.eml"))
