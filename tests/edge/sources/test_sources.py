from __future__ import annotations

import time
from pathlib import Path

import pytest

from edge.settings import CameraSource, SyntheticSource, VideoSource
from edge.sources import SourceError, create_source
from edge.sources.base import FpsMeter, Pacer
from edge.sources.camera import CameraFrameSource
from tests.edge.helpers import write_video


def test_video_source_scales_frames_and_stamps_an_ideal_timeline(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.avi", 10, 64, 48)
    settings = VideoSource(path=path, realtime=False)
    with create_source(settings, 32, 24, 25.0) as source:
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame)
    assert len(frames) == 10
    assert {f.image.shape for f in frames} == {(24, 32, 3)}
    assert [f.seq for f in frames] == list(range(10))
    steps = {frames[i + 1].capture_ns - frames[i].capture_ns for i in range(9)}
    assert steps == {40_000_000}


def test_video_source_loops_and_paces_in_realtime(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.avi", 3)
    settings = VideoSource(path=path, loop=True, realtime=True)
    with create_source(settings, 64, 48, 50.0) as source:
        start = time.monotonic()
        frames = [source.read() for _ in range(10)]
        elapsed = time.monotonic() - start
        assert source.delivered_fps > 0
    assert all(f is not None for f in frames)
    assert elapsed >= 9 / 50 * 0.9  # paced: ten frames at 50 fps span 180 ms


def test_missing_or_broken_video_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"does not exist.*source\.path"):
        create_source(VideoSource(path=tmp_path / "nope.avi"), 64, 48, 30.0).open()
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video")
    with pytest.raises(SourceError, match="cannot decode"):
        create_source(VideoSource(path=junk), 64, 48, 30.0).open()


def test_unknown_source_type_names_the_choices() -> None:
    class Odd:
        type = "webcam"

    with pytest.raises(SourceError, match="camera, synthetic, video"):
        create_source(Odd(), 64, 48, 30.0)


def test_absent_camera_says_what_to_check() -> None:
    source = create_source(CameraSource(device="/dev/video-absent"), 640, 480, 30.0)
    with pytest.raises(SourceError, match="plugged in"):
        source.open()


def test_camera_index_from_the_environment_is_a_device_number() -> None:
    assert CameraFrameSource(CameraSource(device="2"), 640, 480, 30.0).device == 2
    by_id = CameraFrameSource(CameraSource(device="/dev/v4l/by-id/cam"), 640, 480, 30.0)
    assert by_id.device == "/dev/v4l/by-id/cam"


@pytest.mark.hardware
def test_real_camera_delivers_frames() -> None:
    if not Path("/dev/video0").exists():
        pytest.skip("no camera at /dev/video0")
    with create_source(CameraSource(device=0), 640, 480, 30.0) as source:
        frames = [source.read() for _ in range(30)]
        assert all(f is not None and f.image.shape == (480, 640, 3) for f in frames)
        assert source.delivered_fps > 5


def test_synthetic_source_carries_truth() -> None:
    with create_source(SyntheticSource(realtime=False), 128, 96, 30.0, 1.0) as source:
        frames = [source.read() for _ in range(31)]
    assert frames[-1] is None  # one second at 30 fps
    first = frames[0]
    assert first is not None and first.truth is not None and first.truth.shape == (17, 3)
    assert first.image.shape == (96, 128, 3)


def test_fps_meter_counts_and_decays_when_stalled() -> None:
    meter = FpsMeter()
    for i in range(31):
        meter.tick(i / 30)
    assert meter.rate(now=1.0) == pytest.approx(30.0)
    assert meter.rate(now=3.0) < 15.0


def test_pacer_starts_its_timeline_at_the_first_frame() -> None:
    pacer = Pacer(10.0, realtime=False)
    t0 = pacer.stamp(0)
    assert pacer.stamp(5) - t0 == 500_000_000
