"""The rendition encoder, checked by decoding what it wrote."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cloud.render.errors import VideoError
from cloud.render.mark import AiMark
from cloud.render.video import RenditionTags, VideoEncoder, probe, read_frames, top_level_boxes
from tests.cloud.render.music import write_tone

TAGS = RenditionTags(session_id="s-0042", model_version="booth1-ft-7", dance="salsa")


def _frames(n: int, size: int = 128) -> list[np.ndarray]:
    out = []
    for i in range(n):
        f = np.full((size, size, 3), (120, 60 + i * 3, 150), np.uint8)
        f[20:60, 10 + i : 50 + i] = (200, 50, 50)
        out.append(f)
    return out


@pytest.mark.parametrize("codec,suffix", [("pcm_s16le", "wav"), ("flac", "flac")])
def test_mp4_is_browser_playable_with_music_tags_and_faststart(
    tmp_path: Path, codec: str, suffix: str
) -> None:
    music = write_tone(tmp_path / f"tone.{suffix}", 5.0, codec=codec)
    out = tmp_path / "r.mp4"
    with VideoEncoder(out, 128, 128, 25, TAGS, music=music) as enc:
        for f in _frames(50):
            enc.write(f)
    info = probe(out)
    assert (info.frames, info.width, info.height) == (50, 128, 128)
    assert info.fps == pytest.approx(25.0)
    assert (info.video_codec, info.pix_fmt) == ("h264", "yuv420p")
    assert info.audio_codec == "aac"
    # Music longer than the video is cut to it (to within one AAC frame).
    assert info.audio_duration_s == pytest.approx(2.0, abs=0.05)
    assert info.faststart
    boxes = top_level_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat")
    assert info.tags["synthetic"] == "true"
    assert info.tags["ai_generated"] == "true"
    assert info.tags["session_id"] == "s-0042"
    assert info.tags["model_version"] == "booth1-ft-7"
    assert "AI-generated" in info.tags["comment"]


def test_short_music_is_padded_to_the_video(tmp_path: Path) -> None:
    music = write_tone(tmp_path / "short.wav", 0.5)
    out = tmp_path / "r.mp4"
    with VideoEncoder(out, 128, 96, 30, TAGS, music=music) as enc:
        for f in _frames(60):
            enc.write(f[:96])
    info = probe(out)
    assert info.frames == 60
    assert info.audio_duration_s == pytest.approx(2.0, abs=0.05)


def test_non_integer_fps_and_no_music(tmp_path: Path) -> None:
    out = tmp_path / "r.mp4"
    with VideoEncoder(out, 128, 128, 29.97, TAGS) as enc:
        for f in _frames(10):
            enc.write(f)
    info = probe(out)
    assert info.frames == 10
    assert info.fps == pytest.approx(29.97, abs=0.01)
    assert info.audio_codec is None


def test_every_frame_carries_the_mark(tmp_path: Path) -> None:
    out = tmp_path / "r.mp4"
    frames = _frames(12)
    with VideoEncoder(out, 128, 128, 25, TAGS) as enc:
        for f in frames:
            enc.write(f)
    y0, y1, x0, x1 = AiMark(128, 128).box
    for src, dec in zip(frames, read_frames(out), strict=True):
        plate = dec[y0:y1, x0:x1].astype(int)
        # The plate darkens the background and carries bright text on it.
        assert plate.mean() < src[y0:y1, x0:x1].mean() - 10
        assert (plate.max(axis=2) > 200).sum() > 30
        # Outside the plate the frame is what was written (lossy, so roughly).
        assert np.abs(dec[y1:].astype(int) - src[y1:].astype(int)).mean() < 4


def test_bad_frames_are_clear_errors_and_keep_what_was_written(tmp_path: Path) -> None:
    out = tmp_path / "r.mp4"
    with VideoEncoder(out, 128, 128, 25, TAGS) as enc:
        for f in _frames(5):
            enc.write(f)
        with pytest.raises(VideoError, match="128x128x3 uint8"):
            enc.write(np.zeros((64, 64, 3), np.uint8))
        with pytest.raises(VideoError, match="uint8"):
            enc.write(np.zeros((128, 128, 3), np.float32))
        enc.write(_frames(1)[0])
    assert probe(out).frames == 6


def test_failure_inside_the_block_leaves_no_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "r.mp4"
    with pytest.raises(RuntimeError), VideoEncoder(out, 128, 128, 25, TAGS) as enc:
        enc.write(_frames(1)[0])
        raise RuntimeError("generator died")
    assert not out.exists()


@pytest.mark.parametrize("size,fps", [((127, 128), 25.0), ((128, 128), 0.0), ((128, 128), -5.0)])
def test_bad_sizes_and_rates_are_refused(tmp_path: Path, size: tuple[int, int], fps: float) -> None:
    with pytest.raises(VideoError):
        VideoEncoder(tmp_path / "r.mp4", *size, fps, TAGS)


def test_music_that_is_not_audio_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("la la la")
    with pytest.raises(VideoError, match="music"):
        VideoEncoder(tmp_path / "r.mp4", 128, 128, 25, TAGS, music=bogus)
    assert not (tmp_path / "r.mp4").exists()


def test_empty_rendition_is_refused(tmp_path: Path) -> None:
    enc = VideoEncoder(tmp_path / "r.mp4", 128, 128, 25, TAGS)
    with pytest.raises(VideoError, match="no frames"):
        enc.close()
    assert not (tmp_path / "r.mp4").exists()


def test_the_mark_goes_where_the_dance_is_not() -> None:
    from cloud.render.mark import quietest_corner
    from tests.cloud.render.skeletons import walk

    # A dancer standing left of centre with the head near the top: top-right is free,
    # bottom-right too, but the feet reach down there: the head does not reach right.
    n = 10
    kps = walk(np.full(n, 40.0), np.full(n, 124.0), np.full(n, 110.0))
    assert quietest_corner(kps, 128, 128) in ("top-right", "bottom-right")
    kps_right = walk(np.full(n, 90.0), np.full(n, 124.0), np.full(n, 110.0))
    assert quietest_corner(kps_right, 128, 128) in ("top-left", "bottom-left")
    for corner in ("top-left", "top-right", "bottom-left", "bottom-right"):
        y0, y1, x0, x1 = AiMark(128, 96, corner=corner).box  # type: ignore[arg-type]
        assert 0 <= y0 < y1 <= 96 and 0 <= x0 < x1 <= 128
