"""A whole rendition: camera resolution, the plate behind the dancer, layouts and cards."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from cloud.render.errors import CompositeError
from cloud.render.generator import PosePainter
from cloud.render.inputs import Dance, VisitorClip
from cloud.render.rendition import make_rendition
from cloud.render.video import RenditionTags, VideoEncoder, probe, read_frames
from cloud.settings import RenderSettings
from tests.cloud.render.music import write_tone
from tests.cloud.render.skeletons import walk

FPS = 25.0
SETTINGS = RenderSettings(intro_s=0.4, outro_s=0.2, batch_size=8)
TAGS = RenditionTags("s1", "painter", "test-dance")


def _clip(
    width: int, height: int, frames: int = 40, samples: tuple[bytes, ...] = ()
) -> VisitorClip:
    xs = np.linspace(0.4, 0.6, frames) * width
    ys = np.full(frames, 0.9 * height)
    return VisitorClip(walk(xs, ys, np.full(frames, 0.6 * height)), width, height, "n1", samples)


def _dance(frames: int = 20, music: Path | None = None, video: Path | None = None) -> Dance:
    t = np.arange(frames)
    kps = walk(300 + 5 * np.sin(t / 3), np.full(frames, 400.0), np.full(frames, 300.0))
    return Dance("test-dance", kps, FPS, music, "Test Dance", video)


def _plate(width: int, height: int) -> np.ndarray:
    """A smooth plate (what a codec keeps well): gradients and a few soft shapes."""
    x = np.linspace(0, 1, width)[None, :, None]
    y = np.linspace(0, 1, height)[:, None, None]
    img = np.concatenate([60 + 120 * x + 0 * y, 80 + 100 * y + 0 * x, 140 - 60 * x * y], axis=2)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_the_delivered_video_has_the_cameras_size_and_the_plate_behind(tmp_path: Path) -> None:
    plate = _plate(1280, 720)
    dance = _dance(music=write_tone(tmp_path / "tone.wav", seconds=2.0))
    out = tmp_path / "r.mp4"
    r = make_rendition(
        PosePainter(256, dancer_only=True),
        _clip(1280, 720),
        dance,
        out,
        tags=TAGS,
        settings=SETTINGS,
        plate=plate,
        booth_name="Booth One",
    )
    info = probe(out)
    assert (info.width, info.height) == (1280, 720)
    intro, outro = round(0.4 * FPS), round(0.2 * FPS)
    assert info.frames == 20 + intro + outro == r.result.frames + r.result.card_frames
    assert info.tags["ai_generated"] == "true" and info.audio_codec == "aac"
    assert r.report()["backdrop"] == "plate" and r.report()["generator_output"] == "dancer-only"
    frames = list(read_frames(out))
    card, dancing = frames[0], frames[intro + 10]
    assert card.mean() < 90  # the intro card is dark, not the plate
    # Far from the dancer (left third: the dance stays in the middle) and from the mark,
    # the decoded frame is the plate up to codec error.
    far = np.s_[200:700, 20:360]
    err = np.abs(dancing[far].astype(int) - plate[far].astype(int))
    assert err.mean() < 3.5 and np.percentile(err, 99) < 10  # yuv420 at crf 23
    middle = np.abs(dancing[200:700, 560:720].astype(int) - plate[200:700, 560:720].astype(int))
    assert middle.mean() > 10  # and the dancer is drawn over it
    # The music waits for the intro card: silent first, then the tone.
    with av.open(str(out)) as c:
        audio = np.concatenate([f.to_ndarray()[0] for f in c.decode(audio=0)])
    lead = int(0.4 * 44100)
    assert np.abs(audio[: lead - 2048]).max() < 0.01
    assert np.abs(audio[lead + 2048 : lead + 8192]).max() > 0.1


def test_a_small_camera_is_upscaled_to_480_rows(tmp_path: Path) -> None:
    r = make_rendition(
        PosePainter(128, dancer_only=True),
        _clip(320, 240),
        _dance(frames=6),
        tmp_path / "r.mp4",
        tags=TAGS,
        settings=SETTINGS,
        plate=_plate(320, 240),
    )
    assert (r.result.width, r.result.height) == (640, 480)
    assert any("upscaled to 640x480" in n for n in r.notes)


def test_without_a_plate_the_sessions_median_is_the_backdrop(tmp_path: Path) -> None:
    bg = _plate(640, 480)
    jpegs = []
    for i in range(5):
        frame = bg.copy()
        cv2.rectangle(frame, (100 + 80 * i, 100), (160 + 80 * i, 400), (0, 0, 255), -1)
        jpegs.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes())
    clip = _clip(640, 480, samples=tuple(jpegs))
    assert np.abs(clip.median_background().astype(int) - bg.astype(int)).mean() < 3  # type: ignore[union-attr]
    r = make_rendition(
        PosePainter(128, dancer_only=True),
        clip,
        _dance(frames=6),
        tmp_path / "r.mp4",
        tags=TAGS,
        settings=SETTINGS,
    )
    assert r.backdrop == "median" and any("no clean plate" in n for n in r.notes)
    plain = make_rendition(
        PosePainter(128),
        _clip(640, 480),
        _dance(frames=6),
        tmp_path / "p.mp4",
        tags=TAGS,
        settings=SETTINGS,
    )
    assert plain.backdrop == "plain" and plain.generator_output == "full-frame"
    assert any("full-frame generator" in n for n in plain.notes)


def test_a_plate_from_another_camera_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CompositeError, match="retake the plate"):
        make_rendition(
            PosePainter(128, dancer_only=True),
            _clip(640, 480),
            _dance(frames=6),
            tmp_path / "r.mp4",
            tags=TAGS,
            settings=SETTINGS,
            plate=_plate(1280, 720),
        )
    assert not (tmp_path / "r.mp4").exists()


def test_side_by_side_shows_the_skeleton_without_a_reference_video(tmp_path: Path) -> None:
    r = make_rendition(
        PosePainter(256, dancer_only=True),
        _clip(1280, 720),
        _dance(frames=8),
        tmp_path / "r.mp4",
        tags=TAGS,
        settings=SETTINGS.model_copy(update={"intro_s": 0.0, "outro_s": 0.0}),
        plate=_plate(1280, 720),
        layout="side-by-side",
    )
    assert (r.result.width, r.result.height) == (1280, 720)
    assert r.reference_panel == "skeleton" and r.report()["layout"] == "side-by-side"
    frame = next(read_frames(r.result.path))
    left = frame[:, :640].reshape(-1, 3).astype(int)
    colourful = (left.max(axis=1) - left.min(axis=1)) > 100  # the limbs' warm/cool colours
    assert colourful.sum() > 500


def test_side_by_side_plays_the_references_own_video(tmp_path: Path) -> None:
    video = tmp_path / "ref.mp4"
    with VideoEncoder(video, 320, 240, FPS, RenditionTags("ref", "ref"), mark=False) as enc:
        for i in range(8):
            enc.write(np.full((240, 320, 3), (0, 30 * i, 200), np.uint8))  # red, ever greener
    r = make_rendition(
        PosePainter(128, dancer_only=True),
        _clip(640, 480),
        _dance(frames=8, video=video),
        tmp_path / "r.mp4",
        tags=TAGS,
        settings=SETTINGS.model_copy(update={"intro_s": 0.0, "outro_s": 0.0}),
        plate=_plate(640, 480),
        layout="side-by-side",
    )
    assert r.reference_panel == "video"
    frames = list(read_frames(r.result.path))
    w = r.result.width
    assert w >= 640 and r.result.height == 480
    centre = [f[240, w // 4].astype(int) for f in frames]
    assert centre[0][2] > 150 and centre[0][1] < 40  # the reference's first frame: red
    assert centre[-1][1] > centre[0][1] + 100  # and it plays along with the dance


def test_the_dance_plays_at_the_booth_cameras_frame_rate(tmp_path: Path) -> None:
    from dataclasses import replace

    from cloud.render.inputs import camera_fps, resample_dance

    assert camera_fps([round(i * 1e9 / 25) for i in (0, 1, 2, 4, 5, 6)]) == 25.0  # one dropped
    assert camera_fps([0]) is None and camera_fps([0, 1000, 2000]) is None  # not a camera's
    dance = _dance(frames=30)  # 25 fps
    slow = resample_dance(dance, 20.0)
    assert len(slow.keypoints) == 24 and slow.fps == 20.0
    assert np.allclose(slow.keypoints[4], dance.keypoints[5])  # t = 0.2 s in both
    clip = replace(_clip(640, 480), fps=20.0)
    r = make_rendition(
        PosePainter(128, dancer_only=True),
        clip,
        dance,
        tmp_path / "r.mp4",
        tags=TAGS,
        settings=SETTINGS,
        plate=_plate(640, 480),
    )
    info = probe(r.result.path)
    assert info.fps == pytest.approx(20.0) and r.result.frames == 24
    assert any("resampled from 25 to 20 fps" in n for n in r.notes)
    same = make_rendition(
        PosePainter(128, dancer_only=True),
        replace(clip, fps=25.4),  # within 2 %: the same rate
        dance,
        tmp_path / "s.mp4",
        tags=TAGS,
        settings=SETTINGS,
        plate=_plate(640, 480),
    )
    assert same.result.frames == 30 and not any("resampled" in n for n in same.notes)
