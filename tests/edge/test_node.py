"""The node against a real Mosquitto: complete delivery, broker outages, resends, status."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.capture import JpegEncoder
from edge.frames import Frame
from edge.node import RETAKE_AFTER_S, EdgeNode, NodeError
from edge.pose.base import Person
from edge.settings import EdgeSettings, PublisherSettings, SpoolSettings, SyntheticSource
from edge.sources.base import FrameSource
from edge.spool import Spool
from protocol.codec import FLAG_OFFLINE, FLAG_RESENT, FLAG_SMOOTHED
from protocol.messages import CaptureCancel, CaptureStart, NodeState
from protocol.settings import MqttSettings
from protocol.topics import Command
from tests.edge.collector import Collector
from tests.edge.helpers import PatternSource, TruthEstimator
from tests.services import Mosquitto

pytestmark = pytest.mark.services


def make_settings(broker: Mosquitto, spool: Path, **publisher: object) -> EdgeSettings:
    pub = {"stats_interval_s": 0.5, "reconnect_max_s": 1, "ack_timeout_s": 5.0}
    pub.update(publisher)
    return EdgeSettings(
        mqtt=MqttSettings(host=broker.host, port=broker.port),
        spool=SpoolSettings(path=spool),
        publisher=PublisherSettings.model_validate(pub),
    )


def make_node(settings: EdgeSettings, realtime: bool = False) -> EdgeNode:
    def sources(fps: float, duration_s: float | None) -> FrameSource:
        return PatternSource(64, 48, fps, realtime=realtime)

    return EdgeNode(settings, estimator=TruthEstimator(), sources=sources)


@pytest.fixture
def collector(mosquitto: Mosquitto) -> Iterator[Collector]:
    c = Collector(mosquitto.host, mosquitto.port)
    yield c
    c.close()


def test_a_15_s_capture_arrives_complete(
    mosquitto: Mosquitto, collector: Collector, tmp_path: Path
) -> None:
    node = make_node(make_settings(mosquitto, tmp_path))
    node.start()
    try:
        node.capture("s15", 15.0, fps=30)
        assert node.wait_idle(60)
        assert collector.wait_for(lambda: collector.complete("s15"))
    finally:
        node.stop()
    manifest = collector.manifests[("s15", "node1")]
    assert (manifest.frame_count, manifest.dropped, manifest.first_seq) == (450, [], 0)
    assert collector.seqs("s15") == set(range(450))
    packet = collector.frames[("s15", "node1", 10)]
    assert packet.keypoints.shape == (17, 3) and packet.people == 1
    # The keypoints are the estimator's (truth) on this frame, at its pixels.
    assert np.allclose(packet.keypoints[:, 2], 1.0)
    image = cv2.imdecode(np.frombuffer(packet.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (48, 64, 3)
    assert (packet.capture_ns - collector.frames[("s15", "node1", 0)].capture_ns) == round(
        10e9 / 30
    )
    assert not collector.conflicts
    assert any(s.state is NodeState.ONLINE for s in collector.statuses)


def test_broker_killed_mid_capture_loses_nothing(
    mosquitto: Mosquitto, collector: Collector, tmp_path: Path
) -> None:
    node = make_node(make_settings(mosquitto, tmp_path), realtime=True)
    node.start()
    try:
        node.capture("sk", 4.0, fps=60)
        time.sleep(1.0)
        mosquitto.kill()
        time.sleep(1.5)  # the node keeps capturing into its spool meanwhile
        assert node.spool.depth() > 30  # ~90 frames captured while the broker was away
        assert not node.publisher.connected.is_set()
        mosquitto.start()
        assert collector.wait_for(lambda: ("sk", "node1") in collector.manifests, 60)
        # Whatever the broker acknowledged and then lost with its memory, the consumer
        # asks for again by the manifest; the node still holds it.
        for _ in range(10):
            if collector.complete("sk") or collector.request_missing("sk") == 0:
                break
            collector.wait_for(lambda: collector.complete("sk"), 5)
        assert collector.complete("sk")
        assert node.wait_idle(30)
    finally:
        node.stop()
    manifest = collector.manifests[("sk", "node1")]
    assert manifest.dropped == [] and manifest.frame_count == 240
    assert collector.seqs("sk") == set(range(240))
    # Duplicates are only re-deliveries of the very same packet.
    assert not collector.conflicts


def test_resend_command_republishes_a_range_flagged(
    mosquitto: Mosquitto, collector: Collector, tmp_path: Path
) -> None:
    node = make_node(make_settings(mosquitto, tmp_path))
    node.start()
    try:
        node.capture("sr", 1.0, fps=30)
        assert node.wait_idle(30)
        assert collector.wait_for(lambda: collector.complete("sr"))
        before = collector.deliveries[("sr", "node1", 5)]
        collector.frames.pop(("sr", "node1", 5))
        assert collector.request_missing("sr") == 1
        assert collector.wait_for(lambda: collector.complete("sr"), 10)
    finally:
        node.stop()
    assert collector.deliveries[("sr", "node1", 5)] == before + 1
    assert collector.frames[("sr", "node1", 5)].flags & FLAG_RESENT


def test_capture_command_starts_at_the_shared_time_and_bad_commands_are_ignored(
    mosquitto: Mosquitto, collector: Collector, tmp_path: Path
) -> None:
    node = make_node(make_settings(mosquitto, tmp_path), realtime=True)
    node.start()
    try:
        topic = collector.topics.command("booth1", Command.CAPTURE)
        collector.client.publish(topic, b'{"v": 1, "session": "../x"}', qos=1)
        collector.client.publish(topic, b"\xff not json", qos=1)
        start_at = time.time() + 1.0
        cmd = CaptureStart(session="sc", start_at=start_at, duration_s=1.5, fps=20)
        collector.client.publish(topic, cmd.to_bytes(), qos=1)
        assert collector.wait_for(lambda: collector.complete("sc"), 30)
        assert node.wait_idle(10)
    finally:
        node.stop()
    first = collector.frames[("sc", "node1", 0)]
    assert abs(first.capture_ns / 1e9 - start_at) < 0.3
    assert collector.manifests[("sc", "node1")].frame_count == 30
    capturing = [s for s in collector.statuses if s.state is NodeState.CAPTURING]
    assert capturing and all(s.session == "sc" and s.backend == "truth" for s in capturing)
    assert any(s.stats.capture_fps > 10 and s.stats.pose_fps > 0 for s in capturing)
    assert collector.wait_for(lambda: collector.statuses[-1].state is NodeState.OFFLINE, 5)


def test_previews_carry_a_skeleton_jpeg(
    mosquitto: Mosquitto, collector: Collector, tmp_path: Path
) -> None:
    settings = make_settings(mosquitto, tmp_path)
    settings.preview.fps = 30
    settings.preview.width = 64
    node = make_node(settings, realtime=True)
    node.start()
    try:
        node.capture("sp", 0.5, fps=30)
        assert node.wait_idle(20)
        assert collector.wait_for(lambda: len(collector.previews) > 0, 5)
    finally:
        node.stop()
    image = cv2.imdecode(np.frombuffer(collector.previews[0], np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (48, 64, 3)


def test_cancel_discards_a_capture_and_one_not_yet_started(
    mosquitto: Mosquitto, collector: Collector, tmp_path: Path
) -> None:
    node = make_node(make_settings(mosquitto, tmp_path), realtime=True)
    node.start()
    try:
        node.capture("sx", 10.0, fps=30)
        time.sleep(0.3)
        node.cancel("sx")
        assert node.spool.capture("sx") is None
        node.cancel("sy")  # cancelled before its start time
        with pytest.raises(NodeError, match="cancelled"):
            node.capture("sy", 1.0, fps=30, start_at=time.time() + 0.2)
        assert node.wait_idle(10)
    finally:
        node.stop()
    assert ("sx", "node1") not in collector.manifests


def test_a_retake_of_the_same_session_is_captured_afresh(
    mosquitto: Mosquitto, collector: Collector, tmp_path: Path
) -> None:
    """The operator's retake: a cancel, then a start for the same session (by command);
    and a retake whose cancel this node never got supersedes the spooled take."""
    node = make_node(make_settings(mosquitto, tmp_path))
    node.start()

    def start(session: str, duration_s: float) -> None:
        command = CaptureStart(session=session, start_at=time.time() + 0.2, duration_s=duration_s)
        node.handle_command(Command.CAPTURE, command.to_bytes())

    try:
        start("sr", 1.0)
        assert collector.wait_for(lambda: collector.complete("sr"))
        first = collector.manifests[("sr", "node1")]
        node.handle_command(Command.CANCEL, CaptureCancel(session="sr").to_bytes())
        assert collector.wait_for(lambda: node.spool.capture("sr") is None)
        time.sleep(RETAKE_AFTER_S)
        start("sr", 2.0)
        assert collector.wait_for(
            lambda: collector.manifests[("sr", "node1")].started_at > first.started_at + 1
        )
        assert collector.manifests[("sr", "node1")].frame_count == 60  # the retake's 2 s
        # No cancel reached the node: the later start still supersedes its take.
        node.capture("sn", 1.0, fps=30)
        assert node.wait_idle(30)
        with pytest.raises(NodeError, match="already captured"):  # the same take again
            node.capture("sn", 1.0, fps=30, start_at=node.spool.capture("sn").started_at)
        time.sleep(RETAKE_AFTER_S)
        node.capture("sn", 2.0, fps=30, start_at=time.time() + 0.2)
        assert node.wait_idle(30)
        assert node.spool.capture("sn").seq_count == 60
    finally:
        node.stop()


def test_a_15_s_synthetic_capture_with_replay_pose_arrives_complete(
    mosquitto: Mosquitto, collector: Collector, tmp_path: Path
) -> None:
    settings = make_settings(mosquitto, tmp_path)
    settings.source = SyntheticSource(seed=5, realtime=False)
    settings.capture.width, settings.capture.height = 128, 96
    node = EdgeNode(settings)  # the settings' own source and pose backend (replay)
    node.start()
    try:
        node.capture("ssyn", 15.0, fps=30)
        assert node.wait_idle(120)
        assert collector.wait_for(lambda: collector.complete("ssyn"))
    finally:
        node.stop()
    manifest = collector.manifests[("ssyn", "node1")]
    assert manifest.frame_count == 450 and manifest.dropped == []
    assert collector.seqs("ssyn") == set(range(450))
    packets = [collector.frames[("ssyn", "node1", q)] for q in range(450)]
    assert all(p.flags & FLAG_SMOOTHED for p in packets)
    assert sum(p.people for p in packets) > 400  # the dancer is seen in nearly every frame
    assert all(p.width == 128 and p.height == 96 for p in packets)


def test_offline_uploads_hold_packets_until_the_capture_ends(
    mosquitto: Mosquitto, collector: Collector, tmp_path: Path
) -> None:
    settings = make_settings(mosquitto, tmp_path, upload_keypoints="offline")
    node = make_node(settings, realtime=True)
    node.start()
    try:
        node.capture("soff", 1.0, fps=30)
        time.sleep(0.6)
        assert collector.seqs("soff") == set()  # nothing leaves before the capture ends
        assert node.wait_idle(30)
        assert collector.wait_for(lambda: collector.complete("soff"), 10)
    finally:
        node.stop()
    packets = [collector.frames[("soff", "node1", q)] for q in range(30)]
    assert all(p.flags == FLAG_OFFLINE for p in packets)


class FailsOnOdd(TruthEstimator):
    """Ground truth, except that the backend raises on every odd frame."""

    def estimate(self, frame: Frame) -> list[Person]:
        if frame.seq % 2:
            raise RuntimeError("interpreter crashed")
        return super().estimate(frame)


def test_a_frame_that_does_not_decode_is_lost_not_a_stall_and_failures_show_in_stats(
    mosquitto: Mosquitto, collector: Collector, tmp_path: Path
) -> None:
    # A previous run left a capture in the spool, one of its JPEGs unreadable.
    spool = Spool(tmp_path)
    jpeg = JpegEncoder(80).encode(np.zeros((48, 64, 3), np.uint8))
    spool.begin_capture("sbad", 64, 48, 30.0, 1.0)
    for seq in range(8):
        spool.add_frame("sbad", seq, 10**9 + seq, 64, 48, b"\xff\xd8 torn" if seq == 3 else jpeg)
    spool.close()
    settings = make_settings(mosquitto, tmp_path)
    node = EdgeNode(settings, estimator=FailsOnOdd())
    node.start()
    try:
        assert collector.wait_for(lambda: collector.complete("sbad"), 30)
        assert node.wait_idle(10)
        node.publish_status()
        assert collector.wait_for(lambda: collector.statuses[-1].stats.lost_frames == 1, 5)
    finally:
        node.stop()
    manifest = collector.manifests[("sbad", "node1")]
    assert manifest.lost == [3] and manifest.frame_count == 7
    assert collector.seqs("sbad") == set(range(8)) - {3}
    stats = max(collector.statuses, key=lambda s: s.stats.pose_failures).stats
    assert stats.pose_failures == 3  # frames 1, 5 and 7 (3 was never decoded)
    assert (tmp_path / "quarantine" / "sbad" / "000003.jpg").read_bytes() == b"\xff\xd8 torn"
