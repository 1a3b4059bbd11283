from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.annotator import Annotator
from edge.capture import JpegEncoder, truth_bytes
from edge.frames import Frame, Keypoints
from edge.keypoints import KeypointStage
from edge.pose.base import Person, PoseEstimator
from edge.spool import FrameState, Spool
from protocol.codec import FLAG_SMOOTHED, decode_packet
from tests.edge.helpers import PatternSource, TruthEstimator, Unchanged


def _spool_frames(spool: Spool, n: int, session: str = "s1") -> list[Frame]:
    source = PatternSource(64, 48, 30.0, count=n)
    spool.begin_capture(session, 64, 48, 30.0, 1.0)
    frames = []
    encoder = JpegEncoder(80)
    while (frame := source.read()) is not None:
        spool.add_frame(
            session,
            frame.seq,
            frame.capture_ns,
            64,
            48,
            encoder.encode(frame.image),
            truth_bytes(frame),
        )
        frames.append(frame)
    return frames


class Shift:
    """A keypoint stage that moves every joint 1 px right and marks joint 0 imputed."""

    def __init__(self) -> None:
        self.resets = 0
        self.times: list[float] = []

    def process(
        self, keypoints: Keypoints, extras: Keypoints, t_s: float
    ) -> tuple[Keypoints, Keypoints, int]:
        self.times.append(t_s)
        out = keypoints.copy()
        out[:, 0] += 1
        return out, extras, 1

    def reset(self) -> None:
        self.resets += 1


def test_spooled_frames_become_packets_from_disk_after_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    frames = _spool_frames(spool, 5)
    stage = Shift()

    def stages(fps: float) -> tuple[KeypointStage, int]:
        return stage, FLAG_SMOOTHED

    annotator = Annotator(spool, TruthEstimator(), stages, "node1")  # empty cache: decodes
    assert annotator.run_once() == 5
    assert spool.counts()[FrameState.READY] == 5
    (key, raw), *_ = spool.ready(1)
    packet = decode_packet(raw)
    assert key == ("s1", 0) and packet.flags == FLAG_SMOOTHED and packet.imputed == 1
    # Ground truth survived the spool: the truth estimator saw it, shifted by the stage.
    truth = np.asarray(frames[0].truth)
    assert np.allclose(packet.keypoints[:, 0], truth[:, 0] + 1, atol=1e-3)
    assert stage.times == pytest.approx([i / 30 for i in range(5)])
    assert annotator.counters.annotated == 5 and annotator.counters.people_seen == 1


class Broken(PoseEstimator):
    name = "broken"

    def estimate(self, frame: Frame) -> list[Person]:
        if frame.seq == 1:
            raise RuntimeError("interpreter crashed")
        kps = np.full((17, 3), np.nan, dtype=np.float32)
        return [Person(keypoints=kps, score=0.5)]


def test_a_failing_or_nan_backend_still_yields_every_frame(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    _spool_frames(spool, 3)
    annotator = Annotator(spool, Broken(), lambda fps: (Unchanged(), 0), "node1")
    assert annotator.run_once() == 3
    packets = [decode_packet(raw) for _, raw in spool.ready(10)]
    assert [p.seq for p in packets] == [0, 1, 2]
    assert all((p.keypoints == 0).all() for p in packets)  # unseen, not NaN
    assert [p.people for p in packets] == [1, 0, 1]
    assert annotator.counters.failures == 1


def test_cached_frames_skip_decoding_and_previews_see_them(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    frames = _spool_frames(spool, 2)
    seen: list[int] = []
    annotator = Annotator(
        spool,
        TruthEstimator(),
        lambda fps: (Unchanged(), 0),
        "node1",
        preview=lambda frame, kps: seen.append(id(frame)),
    )
    for frame in frames:
        annotator.offer("s1", frame)
    annotator.run_once()
    assert seen == [id(f) for f in frames]  # the very objects the capture handed over
