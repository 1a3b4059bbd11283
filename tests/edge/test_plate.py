"""The clean plate on the node: taken when the booth is empty, retaken after a visitor,
taken on the operator's command (and marked when somebody is in it), sent with every
capture through a real Mosquitto, kept across restarts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.node import EdgeNode
from edge.plate import PlateKeeper
from edge.settings import (
    CaptureSettings,
    EdgeSettings,
    PlateSettings,
    PublisherSettings,
    SpoolSettings,
    SyntheticSource,
)
from edge.sources.base import FrameSource
from edge.synthetic.background import background_plate
from protocol.masks import decode_mask, mask_shape
from protocol.messages import PlateTake
from protocol.plates import join_plate
from protocol.settings import MqttSettings
from protocol.topics import Command
from tests.edge.collector import Collector
from tests.edge.helpers import PatternSource, TruthEstimator
from tests.services import Mosquitto

W, H = 320, 240


def _settings(broker: Mosquitto, spool: Path, between: str = "empty") -> EdgeSettings:
    return EdgeSettings(
        mqtt=MqttSettings(host=broker.host, port=broker.port),
        spool=SpoolSettings(path=spool),
        source=SyntheticSource(realtime=False, between_captures=between),  # type: ignore[arg-type]
        capture=CaptureSettings(width=W, height=H),
        plate=PlateSettings(empty_for_s=0.5, watch_fps=10),
        publisher=PublisherSettings(stats_interval_s=0.3, reconnect_max_s=1),
    )


def _node(settings: EdgeSettings) -> EdgeNode:
    def sources(fps: float, duration_s: float | None) -> FrameSource:
        return PatternSource(W, H, fps)

    return EdgeNode(settings, sources=sources)


def _wait(predicate: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def collector(mosquitto: Mosquitto) -> Iterator[Collector]:
    c = Collector(mosquitto.host, mosquitto.port)
    yield c
    c.close()


def test_keeper_stores_attaches_and_reloads_the_plate(tmp_path: Path) -> None:
    keeper = PlateKeeper(tmp_path, "node1", jpeg_quality=95)
    assert keeper.info is None and keeper.stale(60) and keeper.attach("s0") == 0
    plate = np.asarray(background_plate(1280, 720))
    info = keeper.take(plate, person=False, by_operator=False)
    assert (info.width, info.height) == (1280, 720) and not keeper.stale(60)
    n = keeper.attach("s1")
    assert n >= 2  # a 720p plate is more than one 96 KiB chunk
    pending = keeper.pending(100, set())
    assert [k for k, _, _ in pending] == [("plate/s1", i) for i in range(n)]
    keeper.acked(pending[0][0])
    assert keeper.count_pending() == n - 1
    keeper.visited()
    assert keeper.stale(60)
    again = PlateKeeper(tmp_path, "node1")  # a restarted node
    assert again.info == info and again.count_pending() == n - 1
    image = again.image()
    assert image is not None and np.abs(image.astype(int) - plate).mean() < 4.0
    again.drop("s1")
    assert again.count_pending() == 0


def test_counting_and_listing_survive_the_uploader_removing_folders(tmp_path: Path) -> None:
    """The node's idle check counts chunks while the uploader acknowledges them and
    removes a session's folder: a folder gone mid-count is an empty one, not an error."""
    keeper = PlateKeeper(tmp_path, "node1")
    keeper.take(np.asarray(background_plate(320, 240)), person=False, by_operator=False)
    stop = threading.Event()
    errors: list[BaseException] = []

    def look() -> None:
        while not stop.is_set():
            try:
                keeper.count_pending()
                keeper.pending(100, set())
            except BaseException as exc:
                errors.append(exc)
                return

    reader = threading.Thread(target=look)
    reader.start()
    try:
        for i in range(300):
            session = f"s{i}"
            keeper.attach(session)
            if i % 2:
                for key, _, _ in keeper.pending(100, set()):
                    if key[0] == f"plate/{session}":
                        keeper.acked(key)
            else:
                keeper.drop(session)
    finally:
        stop.set()
        reader.join()
    assert errors == [] and keeper.count_pending() == 0


@pytest.mark.services
def test_the_node_takes_the_empty_booth_sends_it_with_the_capture_and_retakes_it(
    mosquitto: Mosquitto, collector: Collector, tmp_path: Path
) -> None:
    node = _node(_settings(mosquitto, tmp_path))
    node.start()
    try:
        assert _wait(lambda: node.plates.info is not None), "no automatic plate"
        first = node.plates.info
        assert first is not None and not first.person and not first.by_operator
        assert collector.wait_for(
            lambda: any(s.plate is not None and s.plate.width == W for s in collector.statuses)
        )
        node.capture("sp1", 0.5, fps=10)
        assert node.wait_idle(30)
        assert collector.wait_for(lambda: collector.plate_complete("sp1"))
        # After the visitor, the booth is photographed empty again.
        assert _wait(lambda: (i := node.plates.info) is not None and i.taken_at > first.taken_at)
    finally:
        node.stop()
    chunks = list(collector.plates[("sp1", "node1")].values())
    jpeg = join_plate(chunks)
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (H, W, 3)
    assert np.abs(image.astype(int) - background_plate(W, H)).mean() < 4.0
    assert not chunks[0].person


@pytest.mark.services
def test_a_backend_without_masks_gets_one_cut_from_the_plate(
    mosquitto: Mosquitto, collector: Collector, tmp_path: Path
) -> None:
    # The synthetic dancer, seen by a backend that reports keypoints only (as MoveNet).
    node = EdgeNode(_settings(mosquitto, tmp_path), estimator=TruthEstimator())
    node.start()
    try:
        assert _wait(lambda: node.plates.info is not None), "no automatic plate"
        node.capture("sp3", 0.5, fps=10)
        assert node.wait_idle(30)
        assert collector.wait_for(lambda: collector.complete("sp3"))
    finally:
        node.stop()
    packets = [p for (s, _, _), p in collector.frames.items() if s == "sp3"]
    assert packets and all(p.mask is not None for p in packets)
    for p in packets:
        mask = decode_mask(p.mask, W, H)  # type: ignore[arg-type]
        assert mask.shape == mask_shape(W, H)
        hips = (p.keypoints[11, :2] + p.keypoints[12, :2]) / 2 * mask.shape[1] / W
        assert mask[int(hips[1]), int(hips[0])] == 255  # the dancer's own middle


@pytest.mark.services
def test_the_operators_plate_with_somebody_in_it_is_flagged(
    mosquitto: Mosquitto, collector: Collector, tmp_path: Path
) -> None:
    node = _node(_settings(mosquitto, tmp_path, between="dancer"))
    node.start()
    try:
        time.sleep(1.5)  # the dancer is always in view: no automatic plate
        assert node.plates.info is None
        topic = collector.topics.command("booth1", Command.PLATE)
        collector.client.publish(topic, PlateTake().to_bytes(), qos=1).wait_for_publish(5)
        assert _wait(lambda: node.plates.info is not None)
        info = node.plates.info
        assert info is not None and info.person and info.by_operator
        assert collector.wait_for(
            lambda: any(s.plate is not None and s.plate.person for s in collector.statuses)
        )
        node.capture("sp2", 0.3, fps=10)
        assert node.wait_idle(30)
        assert collector.wait_for(lambda: collector.plate_complete("sp2"))
    finally:
        node.stop()
    assert next(iter(collector.plates[("sp2", "node1")].values())).person
