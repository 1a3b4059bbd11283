"""The edge node: source, capture, spool, annotator and publisher wired together.

A node serves its booth's commands: a capture command starts a capture at the
shared start time for the given duration (so every node of the booth films the
same moment), cancel stops and forgets it, resend re-publishes a range, erase
removes a deleted visitor's frames from the spool at once (acknowledged ones too) and
answers on the node's ``erased/{session}`` topic, plate takes the clean plate
(:mod:`edge.plate_watch`; the node also takes it by itself between visitors, and
attaches the current one to every capture it starts). In
standalone mode (tests, a single camera on a laptop) :meth:`EdgeNode.capture` is
called directly. On start-up the node first finishes whatever a previous run
left in its spool.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from edge.annotator import Annotator
from edge.capture import CaptureCounters, CaptureRun
from edge.frames import Frame
from edge.keypoints import StageFactory, smoothing_stages
from edge.live import LiveLink, LiveStream, LiveTracker
from edge.offline import OfflinePass
from edge.plate import PlateKeeper
from edge.plate_watch import PlateWatcher
from edge.pose import create_estimator
from edge.pose.base import Person, PoseEstimator
from edge.preview import Previewer
from edge.publisher import Publisher
from edge.settings import EdgeSettings
from edge.sources import FrameSource, SourceError, create_source
from edge.spool import Spool, SpoolError
from protocol.errors import MessageError
from protocol.messages import (
    CaptureCancel,
    CaptureStart,
    ClockEcho,
    ClockPing,
    EraseAck,
    EraseRequest,
    EraseResult,
    NodeState,
    NodeStats,
    NodeStatus,
    PlateTake,
    ResendRequest,
    decode_message,
)
from protocol.topics import Command

logger = logging.getLogger(__name__)

# A capture of a session already spooled that starts this long after the spooled one is
# its retake; one starting sooner is the same take asked for again. A repeated command
# carries the same start time, and a retake's starts a countdown after the operator's
# retake, so any value between a node's start delay and the countdown (5 s) separates them.
RETAKE_AFTER_S = 1.0

# (fps, duration_s) -> an unopened source
SourceFactory = Callable[[float, float | None], FrameSource]
# (fps) -> an unopened source showing the booth between captures
WatchSourceFactory = Callable[[float], FrameSource]


class NodeError(RuntimeError):
    """The node cannot do what was asked; the message says why."""


class EdgeNode:
    """One booth node. :meth:`start` it, then capture by command or by :meth:`capture`."""

    def __init__(
        self,
        settings: EdgeSettings,
        *,
        estimator: PoseEstimator | None = None,
        stages: StageFactory | None = None,
        sources: SourceFactory | None = None,
        watch_sources: WatchSourceFactory | None = None,
    ) -> None:
        self.settings = settings
        self.booth, self.node = settings.node.booth, settings.node.node
        self.spool = Spool(settings.spool.path, settings.spool.max_mb, settings.spool.keep_acked_s)
        # On an Edge TPU this probes it first: a runtime that crashes leaves the node up.
        frame_size = (settings.capture.width, settings.capture.height)
        self.estimator = estimator or create_estimator(settings.pose, frame_size=frame_size)
        self.sources = sources or self._settings_source
        self.plates = PlateKeeper(
            settings.spool.path / "plate", self.node, settings.plate.jpeg_quality
        )
        self.publisher = Publisher(
            settings.mqtt,
            settings.publisher,
            self.booth,
            self.node,
            self.spool,
            on_command=self.handle_command,
            plates=self.plates,
        )
        preview = Previewer(
            settings.preview.fps, settings.preview.width, self.publisher.publish_preview
        )
        self.live: LiveStream | None = None
        self.live_link: LiveLink | None = None
        if settings.live.enabled:
            # Its own connection: live messages never queue beside the frames (edge.live).
            base = self.publisher.client_options()
            options = replace(base, client_id=f"{base.client_id}-live", will=None)
            topic = self.publisher.topics.live(self.booth, self.node)
            self.live_link = LiveLink(settings.mqtt, options, topic)
            self.live = LiveStream(self.live_link.send, send_timeout_s=settings.live.send_timeout_s)
        stages = stages or smoothing_stages(settings.smoothing)
        offline = None
        if settings.publisher.upload_keypoints == "offline":
            offline = OfflinePass(self.spool)
        self.annotator = Annotator(
            self.spool,
            self.estimator,
            stages,
            self.node,
            cache_frames=settings.capture.ring_frames,
            preview=preview,
            on_ready=self.publisher.wake,
            offline=offline,
            plate=self.plates.image,
            live=self.live,
        )
        self._run: CaptureRun | None = None
        self._counters: CaptureCounters | None = None  # of the current or last capture
        self._run_lock = threading.Lock()
        self._cancelled: set[str] = set()  # cancelled before their start time came
        self._erased: set[str] = set()  # the visitor's deletion: never captured again
        self._stop = threading.Event()
        self._stats = threading.Thread(target=self._stats_loop, name="node-stats", daemon=True)
        self.plate_watch = PlateWatcher(
            self.plates,
            settings.plate,
            watch_sources or self._settings_watch_source,
            self.annotator.estimate_aside,
            busy=lambda: self._run is not None or self.annotator.pending(),
            **self._live_watch(stages),
        )

    def _live_watch(self, stages: StageFactory) -> dict[str, Any]:
        """The booth watch's live hooks: each frame between captures goes out live."""
        live = self.live
        if live is None:
            return {}
        fps = self.settings.capture.fps
        tracker = LiveTracker(stages, fps)

        def on_people(frame: Frame, people: list[Person]) -> None:
            kps, seen = tracker.process(frame, people)
            live.offer(frame.capture_ns, frame.width, frame.height, kps, seen)

        return {"live_fps": fps, "on_people": on_people, "on_close": tracker.reset}

    def _settings_watch_source(self, fps: float) -> FrameSource:
        c, source = self.settings.capture, self.settings.source
        if source.type == "synthetic" and source.between_captures == "empty":
            from edge.sources.synthetic import EmptyBoothSource

            return EmptyBoothSource(source, c.width, c.height, fps)
        return create_source(source, c.width, c.height, fps, None)

    def _settings_source(self, fps: float, duration_s: float | None) -> FrameSource:
        c = self.settings.capture
        return create_source(self.settings.source, c.width, c.height, fps, duration_s)

    # -- life cycle -----------------------------------------------------------------
    def start(self) -> None:
        """Finish an interrupted capture from the spool, connect, start the workers."""
        recovered = self.spool.recover()
        if recovered:
            logger.info("resuming %d interrupted captures from the spool", len(recovered))
        self.annotator.start()
        self.publisher.start()
        if self.live is not None and self.live_link is not None:
            self.live_link.start()
            self.live.start()
        self._stats.start()
        self.plate_watch.start()
        self.publish_status()

    def stop(self) -> None:
        """Stop capturing and sending; unacknowledged packets stay in the spool for the
        next start. The last status published is the ``offline`` one."""
        self._stop.set()  # from here on no status is published but the final one
        if self._stats.is_alive():
            self._stats.join(5)
        self.plate_watch.stop()
        run = self._run
        if run is not None:
            run.stop()
            run.wait(5)
        self.annotator.stop()
        if self.live is not None and self.live_link is not None:
            self.live.stop()
            self.live_link.stop()
        self.publisher.stop()
        self.spool.close()

    def wait_idle(self, timeout: float | None = None, poll_s: float = 0.1) -> bool:
        """Wait until no capture runs and every packet and manifest is acknowledged."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._run is None and self.publisher.idle():
                return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(poll_s)

    # -- captures -------------------------------------------------------------------
    def capture(
        self,
        session: str,
        duration_s: float,
        fps: float | None = None,
        start_at: float | None = None,
    ) -> CaptureRun:
        """Open the source now, start capturing at ``start_at`` (Unix s; default now)."""
        with self._run_lock:
            if self._run is not None:
                raise NodeError(f"already capturing {self._run.session}; cancel it first")
            if session in self._erased:
                raise NodeError(f"session {session} was erased on this node")
            self._supersede(session, start_at)
            fps = fps or self.settings.capture.fps
            self.plate_watch.pause()  # the camera is the capture's now
            source = self.sources(fps, duration_s)
            try:
                source.open()
            except BaseException:
                self.plate_watch.resume()
                raise
            if start_at is not None:
                late = time.time() - start_at
                if late > 0.5:
                    logger.warning("capture %s starts %.2f s late", session, late)
                self._stop.wait(max(0.0, start_at - time.time()))
            if session in self._cancelled or self._stop.is_set():
                source.close()
                self.plate_watch.resume()
                raise NodeError(f"capture {session} was cancelled before it started")
            run = CaptureRun(
                source,
                self.spool,
                session,
                duration_s=duration_s,
                ring_frames=self.settings.capture.ring_frames,
                jpeg_quality=self.settings.capture.jpeg_quality,
                on_spooled=self.annotator.offer,
            )
            run.start()
            self._run, self._counters = run, run.counters
            self.plates.attach(session)  # the booth as it was just before the visitor
            self.plates.visited()
        threading.Thread(target=self._finish, args=(run,), name="capture-end", daemon=True).start()
        logger.info("capturing %s for %.1f s at %.0f fps", session, duration_s, fps)
        self.publish_status()
        return run

    def _finish(self, run: CaptureRun) -> None:
        result = run.wait()
        with self._run_lock:
            if self._run is run:  # a cancel may have freed the node, and a new run begun
                self._run = None
            if self._run is None:
                self.plate_watch.resume()
        if result is not None:
            logger.info(
                "capture %s ended: %d frames, %d dropped, %.1f fps",
                result.session,
                result.seq_count,
                len(result.dropped),
                result.fps,
            )
        self.publisher.wake()
        self.publish_status()

    def _supersede(self, session: str, start_at: float | None) -> None:
        """Make way for a retake of ``session`` (a take starting after the one spooled
        here; its cancel may never have reached this node): the old take is dropped. The
        same take asked for again (a repeated command) is refused."""
        previous = self.spool.capture(session)
        if previous is None:
            return
        if start_at is None or start_at <= previous.started_at + RETAKE_AFTER_S:
            raise NodeError(f"session {session} was already captured on this node")
        removed = self.spool.delete_capture(session)
        logger.info("capture %s retaken: the earlier take's %d frames discarded", session, removed)

    def cancel(self, session: str) -> None:
        self._cancelled.add(session)
        run = self._run
        if run is not None and run.session == session:
            run.cancel()
            ended = run.wait(10) is not None
            with self._run_lock:  # free the node now, not when capture-end gets to it
                if ended and self._run is run:
                    self._run = None
                    self.plate_watch.resume()
        removed = self.spool.delete_capture(session)
        self.plates.drop(session)
        logger.info("capture %s cancelled; %d spooled frames discarded", session, removed)

    def erase(self, session: str) -> EraseAck:
        """The visitor's deletion: stop a capture of ``session`` if one runs, refuse one
        later, remove its frames from the spool whatever their state. Idempotent: asked
        again, it answers ``unknown``."""
        self._cancelled.add(session)
        self._erased.add(session)
        known = self.spool.holds(session) or (
            self._run is not None and self._run.session == session
        )
        run = self._run
        if run is not None and run.session == session:
            run.cancel()
            ended = run.wait(10) is not None
            with self._run_lock:
                if ended and self._run is run:
                    self._run = None
                    self.plate_watch.resume()
        frames = self.spool.erase(session)
        self.plates.drop(session)  # the plate chunks still to send with it
        result = EraseResult.ERASED if known else EraseResult.UNKNOWN
        logger.info("erase %s: %s, %d frames removed from the spool", session, result, frames)
        return EraseAck(
            session=session, node=self.node, result=result, frames=frames, at=time.time()
        )

    def _erase_command(self, request: EraseRequest) -> None:
        try:
            ack = self.erase(request.session)
        except SpoolError as exc:  # no answer: the retained request comes back on reconnect
            logger.error("cannot erase %s: %s", request.session, exc)
            return
        self.publisher.publish_erase_ack(ack)

    # -- commands (MQTT network thread: hand long work to threads) ---------------------
    def handle_command(self, command: Command, payload: bytes) -> None:
        arrived = time.time()
        try:
            if command is Command.CLOCK:  # answer at once: the round trip is the measure
                ping = decode_message(ClockPing, payload)
                self.publish_status(ClockEcho(sent_at=ping.sent_at, received_at=arrived))
            elif command is Command.CAPTURE:
                start = decode_message(CaptureStart, payload)
                threading.Thread(target=self._capture_command, args=(start,), daemon=True).start()
            elif command is Command.CANCEL:
                cancel = decode_message(CaptureCancel, payload)
                threading.Thread(target=self.cancel, args=(cancel.session,), daemon=True).start()
            elif command is Command.PLATE:
                take = decode_message(PlateTake, payload)
                if take.node in (None, self.node):
                    logger.info("clean plate requested by the operator")
                    self.plate_watch.request()
            elif command is Command.ERASE:
                if payload:  # an empty retained message: every node confirmed, cleared
                    request = decode_message(EraseRequest, payload)
                    threading.Thread(
                        target=self._erase_command, args=(request,), daemon=True
                    ).start()
            elif command is Command.RESEND:
                resend = decode_message(ResendRequest, payload)
                if resend.node == self.node:
                    n = self.publisher.request_resend(resend)
                    logger.info("resending %d frames of %s", n, resend.session)
        except MessageError as exc:
            logger.warning("ignoring invalid %s command: %s", command.value, exc)

    def _capture_command(self, start: CaptureStart) -> None:
        late = time.time() - start.start_at
        if late >= start.duration_s:
            logger.warning("ignoring capture %s: it ended %.1f s ago", start.session, late)
            return
        # A start after this session's cancel is its retake; a cancel arriving from now
        # on still stops it before its start time.
        self._cancelled.discard(start.session)
        try:
            self.capture(start.session, start.duration_s, start.fps, start.start_at)
        except (NodeError, SpoolError, SourceError) as exc:
            logger.error("cannot start capture %s: %s", start.session, exc)
        except Exception:
            logger.exception("capture %s failed to start", start.session)

    # -- status -----------------------------------------------------------------------
    def status(self, clock: ClockEcho | None = None) -> NodeStatus:
        run, counters = self._run, self._counters
        pose = self.annotator.counters
        capture_fps = run.counters.meter.rate() if run is not None else 0.0
        stats = NodeStats(
            capture_fps=min(1000.0, capture_fps),
            pose_fps=min(1000.0, pose.meter.rate()),
            inference_ms=min(1e5, pose.inference_ms),
            dropped_frames=counters.dropped if counters is not None else 0,
            spool_depth=self.spool.depth(),
            people_seen=min(100, pose.people_seen),
            pose_failures=pose.failures,
            lost_frames=pose.lost,
            unmasked_frames=pose.unmasked,
        )
        return NodeStatus(
            node=self.node,
            state=NodeState.CAPTURING if run is not None else NodeState.ONLINE,
            at=time.time(),
            session=run.session if run is not None else None,
            backend=self.estimator.describe()[:32],
            stats=stats,
            clock=clock,
            plate=self.plates.info,
        )

    def publish_status(self, clock: ClockEcho | None = None) -> None:
        if self._stop.is_set():
            return
        try:
            self.publisher.publish_status(self.status(clock))
        except Exception:
            logger.exception("status not published")

    def _stats_loop(self) -> None:
        interval = self.settings.publisher.stats_interval_s
        next_expire = 0.0
        while not self._stop.wait(interval):
            self.publish_status()
            if time.monotonic() > next_expire:
                self.spool.expire()
                next_expire = time.monotonic() + 60.0
