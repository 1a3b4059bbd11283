"""The clean plate and a camera that changes resolution, from a real node through
Mosquitto to the cloud's real uploader: the plate is stored and loads for the render
pipeline; the frames after the change are refused naming node, session and both sizes,
and the frames before it are kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from cloud.db.models import DeadLetter, Frame, Plate
from cloud.ingest.plates import load_plate
from edge.frames import Frame as EdgeFrame
from edge.node import EdgeNode
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
from protocol.settings import MqttSettings
from tests.cloud.test_uploader import Running, cloud_settings
from tests.cloud.traffic import wait_for
from tests.edge.helpers import PatternSource
from tests.services import Mosquitto

pytestmark = pytest.mark.services

W, H = 320, 240


class ResizingSource(PatternSource):
    """A camera whose driver switches to 640x480 after ``switch_at`` frames."""

    def __init__(self, fps: float, switch_at: int) -> None:
        super().__init__(W, H, fps, count=2 * switch_at)
        self.switch_at = switch_at

    def read(self) -> EdgeFrame | None:
        if self._i == self.switch_at:
            self.width, self.height = 640, 480
        return super().read()


@pytest.fixture
def uploader(mosquitto: Mosquitto, tmp_path: Path) -> Iterator[Running]:
    r = Running(cloud_settings(tmp_path / "cloud", mosquitto.port, session_expiry_s=300))
    r.uploader.start()
    yield r
    r.uploader.stop()
    r.engine.dispose()


def _dead_letters(uploader: Running) -> int:
    """Counted in a fresh session each time: one session polled in a loop keeps reading
    the snapshot of its first query (SQLite WAL), and missed the refusals stored later."""
    with uploader.factory() as db:
        return len(db.scalars(select(DeadLetter)).all())


def test_plate_stored_and_a_resized_camera_refused(
    mosquitto: Mosquitto, uploader: Running, tmp_path: Path
) -> None:
    settings = EdgeSettings(
        mqtt=MqttSettings(host=mosquitto.host, port=mosquitto.port),
        spool=SpoolSettings(path=tmp_path / "spool"),
        source=SyntheticSource(realtime=False),
        capture=CaptureSettings(width=W, height=H),
        plate=PlateSettings(empty_for_s=0.3, watch_fps=10),
        publisher=PublisherSettings(reconnect_max_s=1, stats_interval_s=0.5),
    )

    def sources(fps: float, duration_s: float | None) -> FrameSource:
        return ResizingSource(fps, switch_at=10)

    node = EdgeNode(settings, sources=sources)
    node.start()
    try:
        wait_for(lambda: node.plates.info is not None, what="the automatic plate")
        node.capture("s1", 2.0, fps=10)
        wait_for(lambda: uploader.frames() == 10, what="the frames before the change")
        wait_for(lambda: _dead_letters(uploader) >= 10, what="the refusals")
        with uploader.factory() as db:
            reasons = {d.reason for d in db.scalars(select(DeadLetter))}
            seqs = set(db.scalars(select(Frame.seq)))
        wait_for(lambda: load_plate(uploader.storage, uploader.factory, "s1") is not None,
                 what="the plate")  # fmt: skip
    finally:
        node.stop()
    assert seqs == set(range(10))
    assert any(
        "node node1" in r and "session s1" in r and "640x480" in r and f"{W}x{H}" in r
        for r in reasons
    ), reasons
    plate = load_plate(uploader.storage, uploader.factory, "s1", "node1")
    assert plate is not None and plate.shape == (H, W, 3)
    assert np.abs(plate.astype(int) - background_plate(W, H)).mean() < 4.0
    with uploader.factory() as db:
        row = db.get(Plate, ("s1", "node1"))
        # The node saw nobody in its plate, but this camera's frames (a test pattern) are
        # not the booth's background: load_plate's check asks for a retake.
        assert row is not None and row.warning is not None and "retake" in row.warning
