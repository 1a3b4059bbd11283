"""``reference add`` with bad input: each gets a clear error (or is resampled, with a note
in the report) and leaves nothing half-written."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest

from common.reference import load_reference
from common.reference_add import AddOptions, ReferenceAddError, ReferenceRejected
from edge.reference_add import add_reference
from edge.reference_video import H264Writer, frames, plan, probe
from tests.edge import reference_fixtures as fx
from tests.edge.videos import write_vfr_video, write_video

av = pytest.importorskip("av")


def _options(tmp: Path, npy: Path | None = None, **kw: object) -> AddOptions:
    backend = "replay" if npy is not None else "blazepose"
    return AddOptions(root=tmp / "dances", backend=backend, keypoints=npy, **kw)


def _nothing_left(tmp: Path, *keep: str) -> None:
    root = tmp / "dances"
    assert sorted(p.name for p in root.iterdir()) == sorted(keep) if root.exists() else not keep


def test_not_a_video(tmp_path: Path) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_text("shopping list: milk")
    with pytest.raises(ReferenceAddError, match="not a video"):
        add_reference(notes, "notes", _options(tmp_path))
    _nothing_left(tmp_path)


def test_longer_than_the_cap_says_how_to_trim(tmp_path: Path) -> None:
    video, npy = fx.clip(tmp_path, "long", fx.dancer(3.0), audio=None)
    with pytest.raises(ReferenceAddError, match=r"3 s long; the cap is 2 s.*--start/--end"):
        add_reference(video, "long", _options(tmp_path, npy, max_duration_s=2.0))
    _nothing_left(tmp_path)
    trimmed = add_reference(video, "long", _options(tmp_path, npy, max_duration_s=2.0, end_s=2.0))
    assert trimmed.report.frames == 60


def test_120_fps_is_resampled_to_the_booth_rate_with_a_note(tmp_path: Path) -> None:
    kps = np.array(fx.make_visitor(3).observed(fx.W, fx.H, 120, 2.5))
    video = write_video(tmp_path / "fast.mp4", frames=len(kps), fps=120, size=(fx.W, fx.H))
    np.save(tmp_path / "fast.npy", kps)
    result = add_reference(video, "fast", _options(tmp_path, tmp_path / "fast.npy"))
    dance = load_reference("fast", tmp_path / "dances")
    assert (dance.fps, dance.frames) == (30.0, 75)
    assert "120 fps resampled to 30 fps" in result.report.notes
    slow = np.array(fx.make_visitor(3).observed(fx.W, fx.H, 30, 2.5))
    assert np.abs(dance.keypoints[:, :, :2] - slow[:, :17, :2]).mean() < 1.0  # same motion
    with av.open(str(dance.video)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 75


def test_4k_is_scaled_to_720p_with_a_note(tmp_path: Path) -> None:
    kps = fx.dancer(2.0) * np.array([3840 / fx.W, 2160 / fx.H, 1.0], np.float32)
    video = write_video(tmp_path / "uhd.mp4", frames=len(kps), size=(3840, 2160), audio=None)
    np.save(tmp_path / "uhd.npy", kps)
    result = add_reference(video, "uhd", _options(tmp_path, tmp_path / "uhd.npy"))
    dance = load_reference("uhd", tmp_path / "dances")
    assert (dance.width, dance.height) == (1280, 720)
    assert "3840x2160 scaled to 1280x720" in result.report.notes
    assert dance.keypoints[:, :, 0].max() < 1280  # the keypoints are scaled with the frames
    with av.open(str(dance.video)) as c:
        s = c.streams.video[0]
        assert (s.codec_context.name, s.width, s.height) == ("h264", 1280, 720)


def test_variable_frame_rate_becomes_constant_at_the_nearest_frames(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    steps = rng.choice([1 / 30, 1 / 15, 1 / 60], 119)
    times = np.round(np.concatenate([[0.0], np.cumsum(steps)]), 3)  # the file keeps ms
    video = write_vfr_video(tmp_path / "phone.mp4", list(times))
    p = probe(video)
    assert p.variable_rate
    pl = plan(p, AddOptions())
    assert pl.fps == 27 and any("variable frame rate" in n for n in pl.notes)
    for k, (src, _) in enumerate(frames(video, pl)):
        assert src == int(np.argmin(np.abs(times - k / pl.fps))), k
    assert not probe(write_video(tmp_path / "cfr.mp4", frames=60, audio=None)).variable_rate


def test_a_name_collision_keeps_the_old_dance(tmp_path: Path) -> None:
    video, npy = fx.clip(tmp_path, "salsa", fx.dancer(2.5), audio=None)
    add_reference(video, "salsa", _options(tmp_path, npy))
    before = (tmp_path / "dances" / "salsa" / "keypoints.csv").read_bytes()
    with pytest.raises(ReferenceAddError, match=r"'salsa' exists.*--replace"):
        add_reference(video, "salsa", _options(tmp_path, npy))
    assert (tmp_path / "dances" / "salsa" / "keypoints.csv").read_bytes() == before
    _nothing_left(tmp_path, "salsa")


def test_disk_full_mid_add_leaves_nothing_and_keeps_the_old_dance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video, npy = fx.clip(tmp_path, "salsa", fx.dancer(2.5), audio=None)
    add_reference(video, "salsa", _options(tmp_path, npy))
    before = (tmp_path / "dances" / "salsa" / "keypoints.csv").read_bytes()
    write = H264Writer.write
    written = [0]

    def fills_up(self: H264Writer, image: np.ndarray) -> None:
        written[0] += 1
        if written[0] > 30:  # the disk fills up a second into the video
            raise OSError(errno.ENOSPC, "No space left on device")
        write(self, image)

    monkeypatch.setattr(H264Writer, "write", fills_up)
    with pytest.raises(ReferenceAddError, match=r"disk is full.*nothing was kept"):
        add_reference(video, "salsa", _options(tmp_path, npy, replace=True, mirror=True))
    assert (tmp_path / "dances" / "salsa" / "keypoints.csv").read_bytes() == before
    _nothing_left(tmp_path, "salsa")


def test_trim_past_the_end_and_backwards(tmp_path: Path) -> None:
    video, npy = fx.clip(tmp_path, "t", fx.dancer(2.5), audio=None)
    with pytest.raises(ReferenceAddError, match="past the end"):
        add_reference(video, "t", _options(tmp_path, npy, start_s=9.0))
    with pytest.raises(ReferenceAddError, match="must come after"):
        add_reference(video, "t", _options(tmp_path, npy, start_s=2.0, end_s=1.0))
    _nothing_left(tmp_path)


def test_blazepose_on_head_and_shoulders_and_on_cut_off_feet(tmp_path: Path) -> None:
    """A real photo of a person, cropped: to the head and shoulders (an error even with
    --force), and to the waist (refused: the feet are cut off)."""
    import cv2

    from edge.pose import samples
    from edge.pose.base import PoseError
    from edge.pose.models import FETCH_HINT, model_path
    from tests.services import missing

    try:
        model_path("pose_detection.tflite")
        model_path("pose_landmark_full.tflite")
    except PoseError:
        missing("the BlazePose models", FETCH_HINT)
    photo = samples.astronaut()

    def video(name: str, share: float) -> Path:
        crop = photo[: int(photo.shape[0] * share)]
        img = cv2.resize(crop, (320, round(320 * crop.shape[0] / crop.shape[1])))
        canvas = np.full((240, 320, 3), 90, np.uint8)
        canvas[240 - min(240, img.shape[0]) :] = img[: min(240, img.shape[0])]
        return write_video(tmp_path / f"{name}.mp4", images=[canvas] * 75, audio=None)

    with pytest.raises(ReferenceAddError, match="only the head and shoulders"):
        add_reference(video("bust", 0.45), "bust", _options(tmp_path, force=True))
    _nothing_left(tmp_path)
    with pytest.raises(ReferenceRejected) as info:
        add_reference(video("waist", 0.6), "waist", _options(tmp_path))
    assert "the feet are cut off in 100% of frames" in info.value.report.summary()
    _nothing_left(tmp_path)
