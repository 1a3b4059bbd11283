from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest

from edge.annotator import Annotator
from edge.capture import JpegEncoder, truth_bytes
from edge.frames import Frame, Keypoints
from edge.keypoints import KeypointStage
from edge.pose.base import Person, PoseEstimator
from edge.publisher import manifest_for
from edge.spool import FrameState, Spool
from protocol.codec import FLAG_SMOOTHED, decode_packet
from protocol.masks import decode_mask
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


class AlwaysFails(PoseEstimator):
    name = "always-fails"

    def estimate(self, frame: Frame) -> list[Person]:
        raise RuntimeError(f"interpreter crashed on {frame.seq}")


def test_pose_failures_are_counted_and_reported_at_a_limited_rate(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path)
    _spool_frames(spool, 20)
    annotator = Annotator(
        spool, AlwaysFails(), lambda fps: (Unchanged(), 0), "node1", report_every_s=0.5
    )
    with caplog.at_level(logging.ERROR, logger="edge.annotator"):
        assert annotator.run_once(limit=10) == 10
        time.sleep(0.6)
        assert annotator.run_once(limit=10) == 10
    assert annotator.counters.failures == 20
    assert spool.counts()[FrameState.READY] == 20, "every frame still goes out, nobody seen"
    reports = [r for r in caplog.records if "pose backend failed" in r.getMessage()]
    assert len(reports) == 2, "the first, then one per interval: not one per frame"
    assert reports[0].exc_info is not None  # the first carries its traceback
    later = reports[1].getMessage()
    assert "s1/10: interpreter crashed on 10" in later
    assert "(11 failures so far, 10 since the last report)" in later


@pytest.mark.parametrize("bad", [b"not a jpeg", b""], ids=["garbage", "empty"])
def test_an_undecodable_spooled_frame_is_quarantined_and_listed_lost(
    tmp_path: Path, bad: bytes
) -> None:
    spool = Spool(tmp_path)
    good = JpegEncoder(80).encode(np.zeros((48, 64, 3), np.uint8))
    spool.begin_capture("s1", 64, 48, 30.0, 1.0)
    for seq in range(4):
        spool.add_frame("s1", seq, 10**9 + seq, 64, 48, bad if seq == 1 else good)
    spool.end_capture("s1", 2.0, 4, [], 30.0)
    annotator = Annotator(spool, TruthEstimator(), lambda fps: (Unchanged(), 0), "node1")
    assert annotator.run_once() == 4  # the frames behind it are not stalled
    assert annotator.run_once() == 0  # and it is not tried again
    assert [key for key, _ in spool.ready(10)] == [("s1", 0), ("s1", 2), ("s1", 3)]
    assert annotator.counters.lost == 1

    moved = tmp_path / "quarantine" / "s1" / "000001.jpg"
    assert moved.read_bytes() == bad
    assert "s1/1: the JPEG does not decode" in moved.with_suffix(".txt").read_text()
    record = spool.capture("s1")
    assert record is not None and record.lost == [1]
    spool.mark_acked([key for key, _ in spool.ready(10)])
    (due,) = spool.manifests_due()
    manifest = manifest_for(due, "node1")
    assert manifest.lost == [1] and manifest.dropped == []
    assert manifest.frame_count == 3 and manifest.expected_seqs() == {0, 2, 3}

    spool.delete_capture("s1")  # the quarantined bytes go with their capture
    assert not moved.exists()


class Masked(PoseEstimator):
    """One person whose mask depends on the frame: a box, empty, none, or the wrong size."""

    name = "masked"

    def estimate(self, frame: Frame) -> list[Person]:
        kps = np.asarray(frame.truth, dtype=np.float32).copy()
        box = np.zeros((48, 64), np.uint8)  # the mask of a 64 x 48 frame is full size
        box[10:40, 20:30] = 255
        masks = {0: box, 1: np.zeros_like(box), 2: None, 3: np.zeros((10, 10), np.uint8)}
        return [Person(keypoints=kps, score=1.0, mask=masks.get(frame.seq % 4))]


def test_the_dancers_mask_rides_in_the_packet_and_missing_ones_are_counted(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path)
    _spool_frames(spool, 8)
    annotator = Annotator(spool, Masked(), lambda fps: (Unchanged(), 0), "node1")
    assert annotator.run_once() == 8
    packets = [decode_packet(raw) for _, raw in spool.ready(10)]
    with_mask = [p.seq for p in packets if p.mask is not None]
    assert with_mask == [0, 4]
    assert np.array_equal(
        decode_mask(packets[0].mask or b"", 64, 48)[10:40, 20:30], np.full((30, 10), 255)
    )
    assert annotator.counters.unmasked == 6  # empty, none, wrong size: sent without
    assert annotator.counters.mask_ms > 0


def test_a_synthetic_frames_exact_mask_survives_the_spool(tmp_path: Path) -> None:
    from edge.pose.replay import ReplayEstimator
    from edge.settings import ReplaySettings
    from edge.synthetic.visitor import make_visitor

    spool = Spool(tmp_path)
    spool.begin_capture("s1", 160, 120, 10.0, 1.0)
    frames = list(make_visitor(1).frames(160, 120, 10, 0.3, masks=True))
    encoder = JpegEncoder(80)
    for f in frames:
        spool.add_frame(
            "s1", f.seq, f.capture_ns, 160, 120, encoder.encode(f.image), truth_bytes(f)
        )
    est = ReplayEstimator(ReplaySettings(seed=1))
    annotator = Annotator(spool, est, lambda fps: (Unchanged(), 0), "node1")  # decodes
    assert annotator.run_once() == 3
    for f, (_, raw) in zip(frames, spool.ready(10), strict=True):
        packet = decode_packet(raw)
        assert packet.mask is not None and f.truth_mask is not None
        assert np.array_equal(decode_mask(packet.mask), f.truth_mask)
        assert np.allclose(packet.keypoints, f.truth, atol=5)  # the keypoints too
    assert annotator.counters.unmasked == 0
