"""Building a reference dance from a video file: decoding, audio, cleaning, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.reference_builder import (
    Estimated,
    ReferenceBuildError,
    clean,
    extract_audio,
    load_keypoints_file,
    probe_video,
    read_frames,
)
from edge.settings import SmoothingSettings
from edge.smoothing_metrics import mean_joint_error
from tests.edge.trajectories import corrupt, dancer
from tests.edge.videos import write_video

av = pytest.importorskip("av")


def test_probe_and_read_frames_with_known_keypoints(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", frames=12, audio=None)
    info = probe_video(video)
    assert (info.fps, info.width, info.height) == (30.0, 64, 48)
    truth = dancer(12).astype(np.float32)
    frames = list(read_frames(video, info.fps, truth))
    assert [f.seq for f in frames] == list(range(12))
    assert frames[3].image.shape == (48, 64, 3)
    np.testing.assert_array_equal(frames[5].truth, truth[5])
    assert frames[5].capture_ns == round(5 / 30 * 1e9)


def test_too_few_keypoint_rows_is_a_clear_error(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", frames=10, audio=None)
    with pytest.raises(ReferenceBuildError, match="one row per video frame"):
        list(read_frames(video, 30.0, dancer(5).astype(np.float32)))


def test_not_a_video_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("not a video")
    with pytest.raises(ReferenceBuildError, match="cannot open"):
        probe_video(bogus)


@pytest.mark.parametrize("codec", ["aac", "mp2"])
def test_audio_is_stored_as_aac(tmp_path: Path, codec: str) -> None:
    video = write_video(tmp_path / f"v.{'mp4' if codec == 'aac' else 'mkv'}", audio=codec)
    music = extract_audio(video, tmp_path / "music.m4a")
    assert music is not None
    with av.open(str(music)) as f:
        (stream,) = f.streams.audio
        assert stream.codec_context.name == "aac"
        samples = sum(frame.samples for frame in f.decode(stream))
    assert samples > 0.5 * 44100 * 20 / 30  # most of the 0.67 s tone survived


def test_no_audio_track_gives_none(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", audio=None)
    assert extract_audio(video, tmp_path / "music.m4a") is None


def test_clean_repairs_and_smooths_the_sequence() -> None:
    truth = dancer(150, seed=3)
    noisy = corrupt(truth, seed=3, outlier_rate=0.01, dropout_rate=0.01).seq.astype(np.float32)
    noisy[40:45] = 0.0  # the dancer was not found for 5 frames
    est = Estimated(noisy, np.zeros((150, 4, 3), np.float32), missing=5, people_max=1)
    kps, extras, imputed = clean(est, 30.0, SmoothingSettings())
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
    est = Estimated(seen, np.zeros((120, 4, 3), np.float32), missing=0, people_max=1)
    kps, _, _ = clean(est, 30.0, SmoothingSettings())
    assert (kps[:, 13:17, 2] == 0).all()  # never seen: visibility 0 however repaired
    assert (kps[50:55, 9, 2] > 0.3).all()  # repaired over 5 frames between sure ones
    seen[:, 13:17, 2] = 0.02  # legs guessed with a steady hand but no confidence
    kps, _, _ = clean(est, 30.0, SmoothingSettings())
    assert (kps[:, 13:17, 2] <= 0.02).all()
