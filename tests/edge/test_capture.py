from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.capture import CaptureRun, EncodeError, JpegEncoder
from edge.frames import Frame
from edge.spool import Spool
from tests.edge.helpers import PatternSource


def _run(spool: Spool, source: PatternSource, **kw: object) -> CaptureRun:
    args: dict[str, object] = {"duration_s": 1.0, "ring_frames": 64, "jpeg_quality": 80}
    args.update(kw)
    run = CaptureRun(source, spool, "s1", **args)  # type: ignore[arg-type]
    source.open()
    run.start()
    return run


def test_capture_spools_every_frame_of_the_duration(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    seen: list[int] = []
    run = _run(spool, PatternSource(fps=30.0), on_spooled=lambda s, f: seen.append(f.seq))
    result = run.wait(10)
    assert result is not None
    assert result.seq_count == 30 and result.dropped == [] and result.error is None
    assert result.fps == pytest.approx(30.0)
    frames = spool.captured(100)
    assert [f.seq for f in frames] == list(range(30)) == seen
    image = cv2.imdecode(np.frombuffer(frames[0].jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (48, 64, 3)
    truth = np.frombuffer(frames[0].truth or b"", "<f4").reshape(-1, 3)
    assert truth.shape == (17, 3)
    record = spool.capture("s1")
    assert record is not None and record.seq_count == 30 and record.ended_at is not None


def test_slow_spool_side_drops_frames_counts_them_and_capture_keeps_pace(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    gate = threading.Event()

    def stall(session: str, frame: Frame) -> None:
        gate.wait(5)  # the spool writer is stuck behind a slow consumer

    source = PatternSource(fps=1000.0, realtime=True)
    run = _run(spool, source, duration_s=0.2, ring_frames=8, on_spooled=stall)
    start = time.monotonic()
    while run.counters.meter.rate() == 0 or not source.closed:
        time.sleep(0.01)
        assert time.monotonic() - start < 5
    capture_s = time.monotonic() - start
    gate.set()
    result = run.wait(10)
    assert result is not None
    assert capture_s < 2.0  # the capture ended on time, though nothing drained
    assert len(result.dropped) > 100
    spooled = [f.seq for f in spool.captured(1000)]
    assert sorted(spooled + result.dropped) == list(range(result.seq_count))
    assert run.counters.dropped == len(result.dropped)


def test_stop_ends_a_capture_early(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    run = _run(spool, PatternSource(fps=30.0, realtime=True), duration_s=60.0)
    time.sleep(0.2)
    run.stop()
    result = run.wait(5)
    assert result is not None and 0 < result.seq_count < 60
    record = spool.capture("s1")
    assert record is not None and record.ended_at is not None  # closed: ready to announce


def test_a_cancelled_capture_is_never_closed_so_never_announced(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    run = _run(spool, PatternSource(fps=30.0, realtime=True), duration_s=60.0)
    time.sleep(0.2)
    run.cancel()
    assert run.wait(5) is not None and run.wait(5) is not None  # node and capture-end both wait
    record = spool.capture("s1")
    assert record is not None and record.ended_at is None  # the node deletes it next
    assert spool.manifests_due() == []


def test_encoder_lowers_quality_to_fit_and_fails_clearly_when_it_cannot() -> None:
    noise = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    encoder = JpegEncoder(95, budget=100_000)
    assert len(encoder.encode(noise)) <= 100_000
    assert encoder.reencoded > 0
    with pytest.raises(EncodeError, match=r"capture\.width"):
        JpegEncoder(95, budget=1000).encode(noise)


def test_a_full_spool_drops_new_frames_keeps_the_old_and_lists_the_drops(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_mb=1)

    class Noisy(PatternSource):
        def read(self) -> Frame | None:
            frame = super().read()
            if frame is not None:
                rng = np.random.default_rng(frame.seq)
                frame.image = rng.integers(0, 255, frame.image.shape, dtype=np.uint8)
            return frame

    run = _run(spool, Noisy(320, 240, 30.0), duration_s=2.0)
    result = run.wait(20)
    assert result is not None and result.seq_count == 60
    spooled = [f.seq for f in spool.captured(100)]
    assert spooled and result.dropped  # some fit, the rest are listed as dropped
    assert spooled == list(range(len(spooled)))  # the frames already accepted stay
    assert sorted(spooled + result.dropped) == list(range(60))
    record = spool.capture("s1")
    assert record is not None and record.dropped == result.dropped
