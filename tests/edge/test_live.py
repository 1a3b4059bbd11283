"""The node's live keypoint stream: the mailbox never blocks and keeps the newest; a
node publishes every frame's dancer through a real Mosquitto, between captures and
during them; turned off, it publishes none."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from edge.live import LiveStream
from edge.node import EdgeNode
from edge.settings import (
    CaptureSettings,
    EdgeSettings,
    LiveSettings,
    PlateSettings,
    PublisherSettings,
    SpoolSettings,
)
from edge.sources.base import FrameSource
from protocol.live import LIVE_CAPTURING, LIVE_SMOOTHED, decode_live
from protocol.settings import MqttSettings
from protocol.skeleton import NUM_KEYPOINTS
from tests.edge.collector import Collector
from tests.edge.helpers import PatternSource, TruthEstimator
from tests.services import Mosquitto

W, H = 320, 240


class SlowLink:
    """A send that blocks until released, like a socket behind a burst of frames."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.sent: list[bytes] = []

    def __call__(self, payload: bytes, wait_s: float) -> bool:
        self.entered.set()
        self.release.wait(10)
        self.sent.append(payload)
        return True


def _kps(x: float) -> np.ndarray:
    kps = np.full((NUM_KEYPOINTS, 3), 0.9, np.float32)
    kps[:, 0], kps[:, 1] = x, 100.0
    return kps


def test_a_slow_link_drops_the_waiting_keypoints_and_sends_the_newest() -> None:
    link = SlowLink()
    stream = LiveStream(link)
    stream.start()
    try:
        stream.offer(1, W, H, _kps(1), 1)
        assert link.entered.wait(5)  # the first is being sent, the link is stuck
        for i in range(2, 11):
            stream.offer(i, W, H, _kps(i), 1)  # returns at once: the link holds nothing
        assert stream.counters.dropped == 8
        link.release.set()
        deadline = time.monotonic() + 5
        while stream.counters.sent < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stream.stop()
    sent = [decode_live(p) for p in link.sent]
    assert [m.capture_ns for m in sent] == [1, 10]
    assert sent[1].flags == LIVE_SMOOTHED and sent[1].keypoints[0, 0] == 10
    assert stream.counters.offered == 10 and stream.counters.failed == 0


def test_keypoints_the_node_could_not_sanitise_are_never_offered_as_nan() -> None:
    link = SlowLink()
    link.release.set()
    stream = LiveStream(link)
    stream.start()
    try:
        bad = _kps(5)
        bad[2] = np.nan
        stream.offer(1, W, H, bad, 1)
        deadline = time.monotonic() + 5
        while not link.sent and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stream.stop()
    live = decode_live(link.sent[0])
    assert np.isfinite(live.keypoints).all() and live.keypoints[2, 2] == 0


def _settings(broker: Mosquitto, spool: Path, live: bool) -> EdgeSettings:
    return EdgeSettings(
        mqtt=MqttSettings(host=broker.host, port=broker.port),
        spool=SpoolSettings(path=spool),
        capture=CaptureSettings(width=W, height=H, fps=20),
        plate=PlateSettings(auto=False),
        live=LiveSettings(enabled=live),
        publisher=PublisherSettings(stats_interval_s=0.3, reconnect_max_s=1),
    )


def _node(settings: EdgeSettings) -> EdgeNode:
    """A node whose camera shows a standing, swaying person, capturing or not (light to
    draw, so the test does not wait on a synthetic dancer's renderer)."""

    def sources(fps: float, duration_s: float | None) -> FrameSource:
        return PatternSource(
            W, H, fps, count=round(fps * duration_s) if duration_s else None, realtime=True
        )

    def watch(fps: float) -> FrameSource:
        return PatternSource(W, H, fps, realtime=True)

    return EdgeNode(settings, estimator=TruthEstimator(), sources=sources, watch_sources=watch)


@pytest.fixture
def collector(mosquitto: Mosquitto) -> Iterator[Collector]:
    c = Collector(mosquitto.host, mosquitto.port)
    yield c
    c.close()


@pytest.mark.services
def test_the_node_streams_the_dancer_live_between_and_during_captures(
    mosquitto: Mosquitto, collector: Collector, tmp_path: Path
) -> None:
    node = _node(_settings(mosquitto, tmp_path, live=True))
    node.start()
    try:
        assert collector.wait_for(lambda: sum(m.seen for m in collector.live) >= 10)
        idle = list(collector.live)
        assert not any(m.flags & LIVE_CAPTURING for m in idle)
        node.capture("live1", 1.0, fps=20)
        assert collector.wait_for(
            lambda: sum(bool(m.flags & LIVE_CAPTURING) for m in collector.live) >= 10
        )
        assert node.wait_idle(30)
        assert collector.complete("live1")  # the QoS 1 frames all arrived beside it
        n = len(collector.live)
        assert collector.wait_for(lambda: len(collector.live) > n + 5), "no live after capture"
    finally:
        node.stop()
    live = list(collector.live)
    assert all((m.width, m.height) == (W, H) and m.flags & LIVE_SMOOTHED for m in live)
    seqs = [m.seq for m in live]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(m.publish_ns >= m.capture_ns for m in live)


@pytest.mark.services
def test_a_node_with_live_off_publishes_no_live_keypoints(
    mosquitto: Mosquitto, collector: Collector, tmp_path: Path
) -> None:
    node = _node(_settings(mosquitto, tmp_path, live=False))
    node.start()
    try:
        node.capture("quiet1", 0.5, fps=20)
        assert node.wait_idle(30)
        assert collector.complete("quiet1")
    finally:
        node.stop()
    assert node.live is None and collector.live == []
