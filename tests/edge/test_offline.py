from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge.annotator import Annotator
from edge.offline import OfflinePass
from edge.spool import FrameState, Spool
from protocol.codec import FLAG_OFFLINE, decode_packet
from tests.edge.helpers import TruthEstimator, Unchanged
from tests.edge.test_annotator import _spool_frames


def _mean_smoother(seq: npt.NDArray[np.float32], fps: float) -> npt.NDArray[np.float32]:
    """Every frame becomes the capture's mean pose: maximal, zero-lag smoothing."""
    out = seq.copy()
    out[:, :, :2] = seq[:, :, :2].mean(axis=0)
    return out


def test_packets_are_held_until_the_capture_ends_then_released_smoothed(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    frames = _spool_frames(spool, 8)
    annotator = Annotator(
        spool,
        TruthEstimator(),
        lambda fps: (Unchanged(), 0),
        "node1",
        offline=OfflinePass(spool, _mean_smoother),
    )
    assert annotator.run_once() == 8
    assert spool.counts()[FrameState.HELD] == 8
    assert spool.ready(10) == [] and spool.depth() == 8
    assert annotator.run_once() == 0  # the capture is still open: keep holding
    spool.end_capture("s1", 2.0, 8, [], 30.0)
    assert spool.manifests_due() == []
    assert annotator.run_once() == 8
    packets = [decode_packet(raw) for _, raw in spool.ready(10)]
    assert [p.seq for p in packets] == list(range(8))
    mean_x = np.mean([np.asarray(f.truth)[:, 0] for f in frames], axis=0)
    for p in packets:
        assert p.flags == FLAG_OFFLINE
        assert np.allclose(p.keypoints[:, 0], mean_x, atol=1e-3)
    assert spool.counts()[FrameState.HELD] == 0


def test_a_broken_smoother_falls_back_to_online_keypoints(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    _spool_frames(spool, 3)

    def broken(seq: npt.NDArray[np.float32], fps: float) -> npt.NDArray[np.float32]:
        return np.full_like(seq, np.nan)

    annotator = Annotator(
        spool,
        TruthEstimator(),
        lambda fps: (Unchanged(), 0),
        "node1",
        offline=OfflinePass(spool, broken),
    )
    annotator.run_once()
    spool.end_capture("s1", 2.0, 3, [], 30.0)
    annotator.run_once()
    packets = [decode_packet(raw) for _, raw in spool.ready(10)]
    assert len(packets) == 3 and all(p.flags == 0 for p in packets)


def test_the_real_offline_smoother_runs_on_a_capture(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    _spool_frames(spool, 30)
    offline = OfflinePass(spool)  # edge.smoothing.smooth_offline
    annotator = Annotator(
        spool, TruthEstimator(), lambda fps: (Unchanged(), 0), "node1", offline=offline
    )
    annotator.run_once()
    spool.end_capture("s1", 2.0, 30, [], 30.0)
    annotator.run_once()
    packets = [decode_packet(raw) for _, raw in spool.ready(100)]
    assert len(packets) == 30 and all(p.flags == FLAG_OFFLINE for p in packets)
