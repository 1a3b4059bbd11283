"""``dancebooth reference add VIDEO``: end to end with the replay backend, and refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from common.reference import load_reference
from dancebooth.cli import cli
from edge.smoothing_metrics import mean_joint_error
from edge.synthetic.noise import NoiseModel
from edge.synthetic.visitor import make_visitor
from tests.edge.videos import write_video

pytest.importorskip("av")
FRAMES = 60


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, np.ndarray]:
    """A 2 s video with music, and estimator-like keypoints of a dancer for each frame."""
    tmp = tmp_path_factory.mktemp("clip")
    video = write_video(tmp / "Salsa Night.mp4", frames=FRAMES, size=(160, 120), audio="aac")
    truth = make_visitor(5).keypoints(160, 120, 30.0, FRAMES / 30)
    np.save(tmp / "noisy.npy", NoiseModel().apply(truth, seed=5))
    return video, tmp / "noisy.npy", truth


def _add(root: Path, *args: str) -> object:
    return CliRunner().invoke(cli, ["reference", "add", "--root", str(root), *args])


def test_add_builds_a_clean_dance_with_music(tmp_path: Path, clip) -> None:
    video, keypoints, truth = clip
    result = _add(tmp_path, str(video), "--backend", "replay", "--keypoints", str(keypoints))
    assert result.exit_code == 0, result.output
    dance = load_reference("Salsa-Night", tmp_path)
    assert (dance.frames, dance.fps, dance.width, dance.height) == (FRAMES, 30.0, 160, 120)
    assert dance.audio is not None and dance.audio.name == "music.m4a"
    assert dance.metadata["backend"] == "replay"
    noisy = np.load(keypoints)
    assert mean_joint_error(dance.keypoints, truth) < 0.7 * mean_joint_error(noisy, truth)
    # The operator's correction path: edit a row of the CSV, and the dance still loads.
    csv = tmp_path / "Salsa-Night" / "keypoints.csv"
    lines = csv.read_text().splitlines()
    cells = lines[11].split(",")
    cells[1:4] = ["80.00", "20.00", "1"]  # frame 10: put the nose by hand
    lines[11] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")
    assert load_reference("Salsa-Night", tmp_path).keypoints[10, 0].tolist() == [80, 20, 1]


def test_add_refuses_to_overwrite_and_bad_arguments(tmp_path: Path, clip) -> None:
    video, keypoints, _ = clip
    args = [str(video), "--name", "salsa", "--backend", "replay", "--keypoints", str(keypoints)]
    assert _add(tmp_path, *args, "--no-audio").exit_code == 0
    before = (tmp_path / "salsa" / "keypoints.csv").read_bytes()
    again = _add(tmp_path, *args)
    assert again.exit_code != 0 and "--replace" in again.output
    assert (tmp_path / "salsa" / "keypoints.csv").read_bytes() == before  # nothing lost
    assert not (tmp_path / "salsa" / "music.m4a").exists()
    assert _add(tmp_path, *args, "--replace").exit_code == 0
    assert (tmp_path / "salsa" / "music.m4a").exists()
    mismatch = _add(tmp_path, str(video), "--backend", "replay")
    assert mismatch.exit_code != 0 and "--keypoints" in mismatch.output


def test_add_says_when_keypoints_do_not_cover_the_video(tmp_path: Path, clip) -> None:
    video, keypoints, _ = clip
    short = tmp_path / "short.npy"
    np.save(short, np.load(keypoints)[:10])
    result = _add(tmp_path, str(video), "--backend", "replay", "--keypoints", str(short))
    assert result.exit_code != 0 and "one row per video frame" in result.output
    assert not (tmp_path / "Salsa-Night").exists()


def test_add_with_blazepose_on_a_real_person(tmp_path: Path) -> None:
    from edge.pose.base import PoseError
    from edge.pose.models import FETCH_HINT, model_path
    from edge.pose.samples import swaying
    from protocol.skeleton import KP
    from tests.services import missing

    try:
        model_path("pose_detection.tflite")
        model_path("pose_landmark_full.tflite")
    except PoseError:
        missing("the BlazePose models", FETCH_HINT)
    video = write_video(tmp_path / "astronaut.mp4", images=swaying(24, 320, 240), audio=None)
    result = _add(tmp_path, str(video), "--name", "astro", "--force")  # 0.8 s: too short
    assert result.exit_code == 0, result.output
    dance = load_reference("astro", tmp_path)
    assert dance.frames == 24 and dance.audio is None and dance.metadata["backend"] == "blazepose"
    kps = dance.keypoints
    shoulders_y = kps[:, [KP["left_shoulder"], KP["right_shoulder"]], 1].mean(axis=1)
    assert (kps[:, KP["nose"], 1] < shoulders_y).all()  # the head is above the shoulders
    assert (kps[:, KP["left_eye"], 0] > kps[:, KP["right_eye"], 0]).all()  # facing us


def test_rebuild_after_hand_edits_repairs_the_marked_joints(tmp_path: Path, clip) -> None:
    video, keypoints, truth = clip
    args = [str(video), "--name", "salsa", "--backend", "replay"]
    assert _add(tmp_path, *args, "--keypoints", str(keypoints)).exit_code == 0
    dance = tmp_path / "salsa"
    csv = dance / "keypoints.csv"
    lines = csv.read_text().splitlines()
    col = lines[0].split(",").index("left_wrist_x")
    for frame in range(20, 26):  # the operator marks a bad stretch: unknown wrist
        cells = lines[frame + 1].split(",")
        cells[col : col + 3] = ["0", "0", "0"]
        lines[frame + 1] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")
    rebuilt = _add(tmp_path, *args, "--keypoints", str(dance), "--replace")
    assert rebuilt.exit_code == 0, rebuilt.output
    wrist = load_reference("salsa", tmp_path).keypoints[20:26, 9]
    torso = np.hypot(*(truth[20, 5, :2] - truth[20, 11, :2]))
    assert np.hypot(*(wrist[:, :2] - truth[20:26, 9, :2]).T).max() < 0.5 * torso


def test_add_without_pose_models_says_what_to_run(
    tmp_path: Path, clip, monkeypatch: pytest.MonkeyPatch
) -> None:
    video, _, _ = clip
    monkeypatch.setenv("DANCEBOOTH_MODEL_DIR", str(tmp_path / "no-models"))
    result = _add(tmp_path, str(video), "--name", "salsa")
    assert result.exit_code != 0 and "fetch-models" in result.output
    assert not (tmp_path / "salsa").exists()
