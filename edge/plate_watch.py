"""Watching the booth between captures: live keypoints, and the clean plate when it is empty.

With the live stream on (``live.enabled``), the watcher holds the node's source whenever
no capture runs, looks at every frame (the source's own pace: the capture fps) and hands
each frame and the people in it to ``on_people`` (the node publishes the dancer live,
:mod:`edge.live`). Whether live or not, while the plate is stale (none yet, a visitor
since, or older than ``refresh_after_s``) or the operator asked for one, the watcher
opens the node's source, looks at ``watch_fps`` frames a second (live: every frame)
with the pose backend, and takes the plate once
nobody has been in view for ``empty_for_s``. The operator's request is served with the
next frame whoever is in it; a plate with somebody in it is marked (``PlateInfo.person``)
so the dashboard asks for a retake. A capture always wins: :meth:`PlateWatcher.pause`
closes the source (a camera opens once) before the capture opens its own, and the
watcher waits until :meth:`PlateWatcher.resume`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from edge.frames import Frame
from edge.plate import PlateKeeper
from edge.pose.base import Person
from edge.settings import PlateSettings
from edge.sources import FrameSource, SourceError

logger = logging.getLogger(__name__)

MIN_JOINTS = 4
MIN_CONFIDENCE = 0.3


def someone_in_view(people: list[Person]) -> bool:
    """Whether any reported person is a real one (a few confident joints)."""
    return any(int((p.keypoints[:, 2] >= MIN_CONFIDENCE).sum()) >= MIN_JOINTS for p in people)


class PlateWatcher:
    """The thread that takes plates; ``busy`` says the node is capturing or annotating."""

    def __init__(
        self,
        keeper: PlateKeeper,
        settings: PlateSettings,
        open_source: Callable[[float], FrameSource],
        estimate: Callable[[Frame, bool], list[Person]],
        busy: Callable[[], bool],
        *,
        live_fps: float | None = None,
        on_people: Callable[[Frame, list[Person]], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        """``estimate(frame, fresh)`` runs the pose backend (``fresh``: forget earlier
        frames). With ``live_fps``, the watcher looks at the booth whenever no capture
        runs, at that rate, and calls ``on_people`` for every frame; ``on_close`` when
        it lets go of the source (the next frame continues nothing)."""
        self.keeper, self.settings = keeper, settings
        self.open_source, self.estimate, self.busy = open_source, estimate, busy
        self.live_fps, self.on_people, self.on_close = live_fps, on_people, on_close
        self._fresh = True
        self._source: FrameSource | None = None
        self._requested = threading.Event()
        self._paused = threading.Event()
        self._idle = threading.Event()  # set while the watcher holds no source
        self._idle.set()
        self._stop = threading.Event()
        self._empty_since: float | None = None
        self._thread = threading.Thread(target=self._loop, name="plate-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._close()

    def request(self) -> None:
        """The operator's plate: taken with the next frame the watcher may look at."""
        self._requested.set()

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    def pause(self, timeout: float = 5.0) -> None:
        """Release the source and stay away from it until :meth:`resume`."""
        self._paused.set()
        if threading.current_thread() is not self._thread and self._thread.is_alive():
            self._idle.wait(timeout)
        else:
            self._close()

    def resume(self) -> None:
        self._empty_since = None
        self._paused.clear()

    # -- the thread ---------------------------------------------------------------------
    def _plate_wanted(self) -> bool:
        if self._requested.is_set():
            return True
        return self.settings.auto and self.keeper.stale(self.settings.refresh_after_s)

    def _wanted(self) -> bool:
        if self._paused.is_set() or self.busy():
            return False
        return self.live_fps is not None or self._plate_wanted()

    def _loop(self) -> None:
        interval = 1.0 / (self.live_fps or self.settings.watch_fps)
        while not self._stop.is_set():
            started = time.monotonic()
            if not self._wanted():
                self._close()
                self._empty_since = None
                self._stop.wait(0.2)
                continue
            try:
                self._look()
            except SourceError as exc:
                logger.warning("cannot watch the booth for a clean plate: %s", exc)
                self._close()
                self._stop.wait(10.0)
                continue
            except Exception:
                logger.exception("plate watch failed; retrying")
                self._close()
                self._stop.wait(5.0)
                continue
            # A camera paces itself (read() waits for its next frame); a file does not.
            self._stop.wait(max(0.0, started + interval - time.monotonic()))

    def _look(self) -> None:
        if self._source is None:
            self._idle.clear()
            if self._paused.is_set():  # a capture came between the check and now
                self._idle.set()
                return
            source = self.open_source(self.live_fps or self.settings.watch_fps)
            source.open()
            self._source = source
            self._fresh = True
        frame = self._source.read()
        if frame is None:  # a file or synthetic source ran out: start it again
            self._close()
            return
        if self._paused.is_set():
            self._close()
            return
        # Frames seconds apart (plate only) start afresh; live ones continue each other.
        people = self.estimate(frame, self._fresh or self.live_fps is None)
        self._fresh = False
        if self.on_people is not None:
            self.on_people(frame, people)
        if self._plate_wanted():
            self._consider_plate(frame, someone_in_view(people))

    def _consider_plate(self, frame: Frame, person: bool) -> None:
        now = time.monotonic()
        if self._requested.is_set():
            self._requested.clear()
            self.keeper.take(frame.image, person=person, by_operator=True)
            self._empty_since = None
            self._release()
        elif person:
            self._empty_since = None
        elif self._empty_since is None:
            self._empty_since = now
        elif now - self._empty_since >= self.settings.empty_for_s:
            self.keeper.take(frame.image, person=False, by_operator=False)
            self._empty_since = None
            self._release()

    def _release(self) -> None:
        """The plate is taken: let go of the source unless live frames still need it."""
        if self.live_fps is None:
            self._close()

    def _close(self) -> None:
        source, self._source = self._source, None
        if source is not None and self.on_close is not None:
            self.on_close()
        if source is not None:
            try:
                source.close()
            except Exception:
                logger.exception("closing the plate watch's source failed")
        self._idle.set()
