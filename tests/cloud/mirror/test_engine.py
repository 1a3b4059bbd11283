"""The mirror's engine with a real, model-free generator (PosePainter): frames of the
newest pose, the card when nobody is there, models switched or refused while it runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from cloud.mirror.engine import MirrorEngine, MirrorModelError
from cloud.mirror.hub import FrameHub, MirrorFrame
from cloud.render.generator import Generator, Images, PosePainter
from tests.cloud.mirror.helpers import live, watched


def _wait(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def _loader(path: Path) -> Generator:
    if path.name == "broken.safetensors":
        raise ValueError("checkpoint format 9 is newer than this code (reads 1-3)")
    return PosePainter(int(path.stem.split("-")[-1]), temporal=True)


@pytest.fixture
def engine() -> Iterator[MirrorEngine]:
    e = MirrorEngine(PosePainter(128, temporal=True), watched(), loader=_loader, absent_s=0.3)
    e.start()
    yield e
    e.stop()


def _latest(e: MirrorEngine) -> MirrorFrame:
    frame = e.hub.latest()
    assert frame is not None
    return frame


def test_keypoints_become_marked_frames_of_the_generators_size(engine: MirrorEngine) -> None:
    engine.offer(live(1))
    assert _wait(lambda: engine.frames >= 1)
    frame = _latest(engine)
    assert frame.present and frame.seq == 1 and frame.keypoints_ms >= 0
    image = cv2.imdecode(np.frombuffer(frame.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (128, 128, 3)
    assert image[:, 40:90].std() > 10  # somebody is painted there
    assert len(frame.skeleton) == 17 and 0 < frame.skeleton[0][0] < 1
    stats = engine.stats()
    assert stats["frames"] == 1 and stats["keypoints_to_frame_ms"]["p95"] is not None


def test_nobody_in_view_or_no_keypoints_shows_step_in(engine: MirrorEngine) -> None:
    engine.offer(live(1, people=0))
    assert _wait(lambda: engine.hub.latest() is not None)
    assert not _latest(engine).present
    engine.offer(live(2))
    assert _wait(lambda: _latest(engine).present)
    # The node goes away: no keypoints at all for absent_s.
    assert _wait(lambda: not _latest(engine).present, timeout=5)


class Slow:
    """A generator that takes its time, so newer keypoints pile up behind it."""

    resolution, model_version, temporal, dancer_only = 128, "slow", False, False

    def __init__(self) -> None:
        self.painter = PosePainter(128)
        self.busy = threading.Event()
        self.go = threading.Event()
        self.armed = False  # warm-up frames go through at once

    def generate(self, pose_maps: Images, previous: Images | None) -> Images:
        if self.armed:
            self.busy.set()
            self.go.wait(5)
        return self.painter.generate(pose_maps, previous)


def test_a_busy_generator_gets_the_newest_keypoints_and_the_rest_are_dropped() -> None:
    slow = Slow()
    engine = MirrorEngine(slow, watched())
    engine.start()
    slow.armed = True
    try:
        engine.offer(live(1))
        assert slow.busy.wait(5)
        for seq in range(2, 12):
            engine.offer(live(seq))
        slow.go.set()
        assert _wait(lambda: engine.frames >= 2)
    finally:
        engine.stop()
    assert _latest(engine).seq == 11 and engine.dropped == 9


def test_a_model_of_another_size_or_version_is_refused_and_the_old_one_keeps_going(
    engine: MirrorEngine,
) -> None:
    with pytest.raises(MirrorModelError, match="256 px model and this mirror renders 128 px"):
        engine.switch(Path("visitor-256.safetensors"))
    with pytest.raises(MirrorModelError, match="format 9 is newer"):
        engine.switch(Path("broken.safetensors"))
    assert engine.model_version == "pose-painter-128-t"
    assert "still showing pose-painter-128-t" in (engine.stats()["model_error"] or "")
    engine.offer(live(1))
    assert _wait(lambda: engine.frames >= 1)
    assert engine.switch(Path("other-128.safetensors")) == "pose-painter-128-t"
    assert engine.stats()["model_error"] is None
    engine.offer(live(2))
    assert _wait(lambda: engine.frames >= 2)  # the new one draws


def test_a_dancer_only_model_is_shown_over_the_backdrop() -> None:
    engine = MirrorEngine(PosePainter(128, dancer_only=True), watched())
    engine.start()
    try:
        engine.offer(live(1))
        assert _wait(lambda: engine.frames >= 1)
    finally:
        engine.stop()
    image = cv2.imdecode(np.frombuffer(_latest(engine).jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (128, 128, 3)
    corner = image[-10:, :10].reshape(-1, 3).mean(axis=0)  # no dancer there: the backdrop
    assert np.abs(corner - np.array([40, 36, 34])).max() < 8


def test_nobody_watching_leaves_the_generator_idle() -> None:
    painter = PosePainter(128)
    calls = []
    real = painter.generate
    painter.generate = lambda *a: calls.append(1) or real(*a)  # type: ignore[method-assign]
    hub = FrameHub()
    engine = MirrorEngine(painter, hub)
    engine.start()
    try:
        warmed = len(calls)
        for seq in range(5):
            engine.offer(live(seq))
            time.sleep(0.05)
        assert _wait(lambda: engine.unwatched >= 3)
        assert len(calls) == warmed and engine.frames == 0
        with hub.viewer():
            engine.offer(live(10))
            assert _wait(lambda: engine.frames == 1)
        hub.glance()  # a one-off frame request keeps it rendering for a while
        engine.offer(live(11))
        assert _wait(lambda: engine.frames == 2)
        assert engine.stats()["unwatched"] >= 3
    finally:
        engine.stop()
