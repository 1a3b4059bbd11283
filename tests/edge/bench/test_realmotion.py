"""Real human motion for the smoothing benchmark: the clips read, pose and project
like a dancer in the booth, and bad motion files are refused with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.bench.realmotion import (
    SCORED,
    TUNING,
    MotionError,
    clip_truth,
    forward_kinematics,
    load_clip,
    load_set,
    motions_dir,
    resample,
)
from protocol.skeleton import KP


def test_every_clip_of_the_set_ships_with_its_licence() -> None:
    folder = motions_dir()
    assert set(SCORED).isdisjoint(TUNING) and len(SCORED) >= 6
    for clip in load_set(SCORED + TUNING):
        assert clip.duration_s > 0.7
    assert (
        "zlib" in (folder / "LICENCE.txt").read_text()
        or "Permission is granted" in (folder / "LICENCE.txt").read_text()
    )
    assert "pybullet==3.2.7" in (folder / "README.md").read_text()


def test_bones_keep_their_length_and_the_dancer_faces_the_camera() -> None:
    (clip,) = load_set(("dance_b",))
    joints = forward_kinematics(resample(clip, 30.0)).joints
    for a, b in (("left_shoulder", "left_elbow"), ("right_hip", "right_knee")):
        bone = np.linalg.norm(joints[:, KP[a]] - joints[:, KP[b]], axis=1)
        assert bone.std() < 1e-6 and 0.2 < bone.mean() < 0.5  # metres, rigid
    # Facing the camera (+z): the dancer's left shoulder on +x, the nose in front.
    assert (joints[:, KP["left_shoulder"], 0] > joints[:, KP["right_shoulder"], 0]).mean() > 0.9
    ears = (joints[:, KP["left_ear"]] + joints[:, KP["right_ear"]]) / 2
    assert (joints[:, KP["nose"], 2] > ears[:, 2]).mean() > 0.9


def test_a_clip_is_seen_in_the_booth_camera_at_the_asked_rate() -> None:
    seen = clip_truth("jump", 640, 480, 30.0)
    assert seen.shape == (53, 21, 3)  # 1.77 s at 30 fps; COCO-17 + heels and toes
    assert set(np.unique(seen[..., 2])) <= {0.0, 1.0}
    body = seen[:, :17]
    visible = body[..., 2] > 0
    assert visible.mean() > 0.9
    assert (body[visible, 0] >= 0).all() and (body[visible, 0] <= 639).all()
    # A jump: the hips rise (image y falls) by a good part of a torso length, then land.
    hips = body[:, [KP["left_hip"], KP["right_hip"]], 1].mean(axis=1)
    assert hips[0] - hips.min() > 30


def test_resampling_is_smooth_where_the_recording_is_coarse() -> None:
    # The backflip is recorded at 16 fps: at 30 fps its joints must not kink at every
    # recorded frame (a kink is a spike of acceleration no smoother can be blamed for).
    seen = clip_truth("backflip", 640, 480, 30.0)
    wrist = seen[:, KP["left_wrist"], :2]
    accel = np.linalg.norm(np.diff(wrist, 2, axis=0), axis=1)
    jerk = np.linalg.norm(np.diff(wrist, 3, axis=0), axis=1)
    assert np.median(jerk) < 2 * np.median(accel)


def _write(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ("not json", "not a readable motion file"),
        ({"Frames": [[0.1] * 10, [0.0] * 10]}, "expected"),
        ({"Frames": [[0.0] + [0.0] * 43, [0.0] * 44]}, "positive durations"),
        ({"Loop": "wrap"}, "not a readable motion file"),
    ],
)
def test_a_bad_motion_file_is_refused_with_the_reason(
    tmp_path: Path, doc: object, reason: str
) -> None:
    path = tmp_path / "bad.txt"
    if isinstance(doc, str):
        path.write_text(doc)
    else:
        _write(path, doc)
    with pytest.raises(MotionError, match=reason):
        load_clip(path)
