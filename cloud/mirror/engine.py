"""The mirror's engine: the newest pose, drawn and generated in its own thread, as JPEG.

Keypoints arrive on the MQTT thread (:meth:`MirrorEngine.offer`) into a one-slot
mailbox: a pose the generator had no time for is replaced by the next one and counted
as dropped, never queued, so the picture is always of the newest pose. The inference
thread frames the pose (:mod:`cloud.mirror.framing`), draws its pose map
(:func:`common.posemap.pose_map`, as training did), runs the generator at batch 1
(chained on its previous output when the model is temporal), puts a dancer-only
model's dancer over a plain backdrop, burns in the AI-generated mark, encodes JPEG and
hands the frame to the :class:`~cloud.mirror.hub.FrameHub`. With nobody in view for
``absent_s`` (or no keypoints at all: the node is away) it shows "step in to dance".
With nobody watching (no stream open, :meth:`FrameHub.watched`) it keeps the framing
up to date but does not run the generator: a mirror nobody looks at costs no CPU.

:meth:`MirrorEngine.switch` changes the model while it runs: the new one is loaded
and checked beside the running one, which keeps running if the new one is refused.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from cloud.mirror.framing import LiveFraming
from cloud.mirror.hub import FrameHub, MirrorFrame
from cloud.render.generator import Generator, Images
from cloud.render.mark import AiMark
from common.posemap import pose_map
from protocol.live import LiveKeypoints

logger = logging.getLogger(__name__)

Loader = Callable[[Path], Generator]
BACKDROP = (40, 36, 34)  # BGR, behind a dancer-only model's dancer
CARD_EVERY_S = 1.0  # the "step in" card is re-sent this often, so late viewers get it
CARD_TEXT = "step in to dance"


class MirrorModelError(RuntimeError):
    """A model the mirror cannot wear; the message says why and what to pick instead."""


@dataclass
class Timings:
    """The last few hundred frames' latencies (ms) and when frames went out."""

    keypoints_ms: deque[float] = field(default_factory=lambda: deque(maxlen=600))
    glass_ms: deque[float] = field(default_factory=lambda: deque(maxlen=600))
    out_at: deque[float] = field(default_factory=lambda: deque(maxlen=600))

    def fps(self, now: float, window_s: float = 2.0) -> float:
        recent = [t for t in self.out_at if now - t <= window_s]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)


def percentile(values: deque[float] | list[float], q: float) -> float | None:
    return float(np.percentile(list(values), q)) if values else None


def step_in_card(size: int) -> Images:
    """The frame shown when nobody is in view."""
    card = np.full((size, size, 3), BACKDROP, np.uint8)
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, size / 320
    thickness = max(1, round(size / 160))
    (tw, th), _ = cv2.getTextSize(CARD_TEXT, font, scale, thickness)
    org = ((size - tw) // 2, (size + th) // 2)
    cv2.putText(card, CARD_TEXT, org, font, scale, (235, 235, 235), thickness, cv2.LINE_AA)
    return card


def warm_up(generator: Generator, runs: int = 2) -> None:
    """A few blank frames through ``generator``: its first calls build kernels (oneDNN
    primitives, CUDA contexts) and take many frame times, which the live picture
    should not wait for."""
    r = generator.resolution
    blank = np.zeros((1, r, r, 3), np.uint8)
    for _ in range(runs):
        generator.generate(blank, blank[0] if generator.temporal else None)


class MirrorEngine:
    """One generator, one inference thread, newest pose wins."""

    def __init__(
        self,
        generator: Generator,
        hub: FrameHub,
        *,
        loader: Loader | None = None,
        jpeg_quality: int = 80,
        absent_s: float = 1.0,
        reframe_after_s: float = 0.5,
        max_age_s: float = 0.5,
    ) -> None:
        self.hub, self.loader, self.jpeg_quality = hub, loader, jpeg_quality
        self.absent_s, self.max_age_s = absent_s, max_age_s
        self.resolution = generator.resolution
        self.framing = LiveFraming(absent_s, reframe_after_s)
        self.timings = Timings()
        self.dropped = 0  # replaced in the mailbox before the generator was free
        self.expired = 0  # older than max_age_s when the generator got to them
        self.frames = 0
        self.unwatched = 0  # poses framed but not generated: nobody was watching
        self.model_error: str | None = None
        self._generator = generator
        self._previous: Images | None = None
        self._slot: tuple[LiveKeypoints, float] | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last_arrival = -float("inf")
        self._card_at = -float("inf")
        self._mark = AiMark(self.resolution, self.resolution)
        self._card = self._mark.apply(step_in_card(self.resolution))
        self._thread = threading.Thread(target=self._loop, name="mirror-inference", daemon=True)

    @property
    def model_version(self) -> str:
        return self._generator.model_version

    def start(self) -> None:
        """Warm the generator up, then start the inference thread."""
        warm_up(self._generator)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def offer(self, live: LiveKeypoints) -> None:
        """The newest keypoints (any thread; never blocks on the generator)."""
        arrived = time.monotonic()
        with self._lock:
            if self._slot is not None:
                self.dropped += 1
            self._slot = (live, arrived)
            self._last_arrival = arrived
        self._wake.set()

    # -- models -------------------------------------------------------------------------
    def switch(self, path: Path) -> str:
        """Wear the model in ``path`` from the next frame; return its version.

        Raises :class:`MirrorModelError` (the running model stays) for a file that does
        not load or is made for another resolution.
        """
        if self.loader is None:
            raise MirrorModelError("this mirror was started with a fixed generator")
        try:
            generator = self.loader(path)
        except Exception as exc:  # the loader's own errors say what is wrong with the file
            self.model_error = f"cannot wear {path.name}: {exc}; still showing {self.model_version}"
            raise MirrorModelError(self.model_error) from exc
        if generator.resolution == self.resolution:
            try:
                warm_up(generator)
            except Exception as exc:
                self.model_error = (
                    f"{path.name} does not generate: {exc}; still showing {self.model_version}"
                )
                raise MirrorModelError(self.model_error) from exc
        else:
            self.model_error = (
                f"{path.name} is a {generator.resolution} px model and this mirror renders"
                f" {self.resolution} px: pick a {self.resolution} px model, or restart the"
                f" mirror with --resolution {generator.resolution}; still showing"
                f" {self.model_version}"
            )
            raise MirrorModelError(self.model_error)
        self.wear(generator)
        return generator.model_version

    def wear(self, generator: Generator) -> None:
        """Wear ``generator`` (already loaded, of this mirror's size) from the next frame."""
        with self._lock:
            self._generator, self.model_error = generator, None
            self._previous = None
        logger.info("the mirror now wears %s", generator.model_version)

    # -- the inference thread -----------------------------------------------------------
    def _take(self) -> tuple[LiveKeypoints, float] | None:
        self._wake.wait(0.1)
        self._wake.clear()
        with self._lock:
            item, self._slot = self._slot, None
        return item

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:
                logger.exception("mirror frame failed; carrying on with the next keypoints")
                self._stop.wait(0.5)

    def _step(self) -> None:
        item = self._take()
        now = time.monotonic()
        if item is None:
            if now - self._last_arrival > self.absent_s:  # no keypoints: the node is away
                self._show_card(now)
            return
        live, arrived = item
        if now - arrived > self.max_age_s:
            self.expired += 1
            return
        framing = self.framing.update(live)
        if framing is None:
            self._previous = None
            self._show_card(now)
            return
        if not self.hub.watched():
            self.unwatched += 1
            self._previous = None  # the chain restarts when someone looks again
            return
        with self._lock:
            generator = self._generator
        res = generator.resolution
        pose = pose_map(framing.to_pixels(live.keypoints, res), res, res)
        previous = self._previous if generator.temporal else None
        out = generator.generate(pose[None], previous)[0]
        image = self._flatten(out)
        self._previous = image if generator.temporal else None
        self._publish(self._mark.apply(image), live, arrived)

    @staticmethod
    def _flatten(out: Images) -> npt.NDArray[np.uint8]:
        if out.shape[-1] == 3:
            return np.ascontiguousarray(out)
        alpha = out[:, :, 3:4].astype(np.float32) / 255.0
        backdrop = np.array(BACKDROP, np.float32)
        mixed = out[:, :, :3].astype(np.float32) * alpha + backdrop * (1.0 - alpha)
        return np.asarray(mixed.round(), np.uint8)

    def _encode(self, image: npt.NDArray[np.uint8]) -> bytes:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise RuntimeError("OpenCV could not encode a mirror frame")
        return buf.tobytes()

    def _publish(self, image: npt.NDArray[np.uint8], live: LiveKeypoints, arrived: float) -> None:
        jpeg = self._encode(image)
        done = time.monotonic()
        wall_ns = time.time_ns()
        kps_ms = (done - arrived) * 1e3
        glass_ms = (wall_ns - live.capture_ns) / 1e6
        t = self.timings
        t.keypoints_ms.append(kps_ms)
        t.glass_ms.append(glass_ms)
        t.out_at.append(done)
        self.frames += 1
        skeleton = live.keypoints.copy()
        skeleton[:, 0] /= live.width
        skeleton[:, 1] /= live.height
        self.hub.publish(
            MirrorFrame(
                jpeg=jpeg,
                present=True,
                seq=live.seq,
                capture_ns=live.capture_ns,
                keypoints_ms=round(kps_ms, 1),
                glass_ms=round(glass_ms, 1),
                aspect=live.width / live.height,
                skeleton=np.round(skeleton, 3).tolist(),
            )
        )

    def _show_card(self, now: float) -> None:
        latest = self.hub.latest()
        if latest is not None and not latest.present and now - self._card_at < CARD_EVERY_S:
            return
        self._card_at = now
        self.hub.publish(MirrorFrame(jpeg=self._encode(self._card), present=False))

    # -- figures ------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        t, now = self.timings, time.monotonic()
        return {
            "model": self.model_version,
            "resolution": self.resolution,
            "model_error": self.model_error,
            "frames": self.frames,
            "fps": round(t.fps(now), 1),
            "keypoints_to_frame_ms": {
                "p50": percentile(t.keypoints_ms, 50),
                "p95": percentile(t.keypoints_ms, 95),
            },
            "capture_to_frame_ms": {
                "p50": percentile(t.glass_ms, 50),
                "p95": percentile(t.glass_ms, 95),
            },
            "dropped_newer_came": self.dropped,
            "dropped_too_old": self.expired,
            "unwatched": self.unwatched,
            "reframes": self.framing.reframes,
            "present": self.framing.present(time.time_ns()),
        }
