"""The mirror's door: live keypoint messages checked, the bad and the stale dropped and counted.

A message is dropped when it does not decode (:func:`protocol.live.decode_live`: NaN,
wrong joint count, checksum, ...), when its capture time is ahead of this machine's
clock, or when it is older than one already let through (QoS 0 messages can overtake
each other across a reconnect). Each drop is counted by its reason, for the mirror's
stats, and reported in the log at most once per ``REPORT_EVERY_S``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

from common.throttle import Throttle
from protocol.live import LiveError, LiveKeypoints, check_live_time, decode_live

logger = logging.getLogger(__name__)

REPORT_EVERY_S = 10.0


class LiveGate:
    """Decode, check and order one node's live keypoints; count what is dropped."""

    def __init__(self, report_every_s: float = REPORT_EVERY_S) -> None:
        self.accepted = 0
        self.dropped: Counter[str] = Counter()
        self._last_ns = -1
        self._lock = threading.Lock()
        self._reports = Throttle(report_every_s)

    def admit(self, payload: bytes, now_ns: int | None = None) -> LiveKeypoints | None:
        """The message's keypoints, or None (dropped and counted)."""
        try:
            live = decode_live(payload)
            check_live_time(live, time.time_ns() if now_ns is None else now_ns)
        except LiveError as exc:
            self._drop(exc.reason, str(exc))
            return None
        with self._lock:
            if live.capture_ns <= self._last_ns:
                self.dropped["stale"] += 1
                return None
            self._last_ns = live.capture_ns
            self.accepted += 1
        return live

    def forget(self) -> None:
        """The node went away: its next capture times may start over (a clock fix)."""
        with self._lock:
            self._last_ns = -1

    def _drop(self, reason: str, message: str) -> None:
        with self._lock:
            self.dropped[reason] += 1
            total = sum(self.dropped.values())
        held = self._reports.allow()
        if held is not None:
            logger.warning(
                "dropped a live keypoint message: %s (%d dropped so far)", message, total
            )
