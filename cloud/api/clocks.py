"""Node clock offsets, measured over MQTT the way NTP does, and the capture check they feed.

Every node starts filming at the shared ``start_at`` the API sends, read on the node's
own clock, so a node whose clock is off films the wrong seconds: one running ahead by
at least the countdown plus the capture length ignores the capture ("it ended already"),
one running behind starts late and films after the visitor stopped. The API's booth
link sends a :class:`~protocol.messages.ClockPing` with its own time ``t0``; the node
answers at once with a status whose :class:`~protocol.messages.ClockEcho` carries
``t0``, the node's receive time ``t1`` and (as the status's ``at``) its send time ``t2``;
the link notes its receive time ``t3``. Then, as in NTP::

    offset = ((t1 - t0) + (t2 - t3)) / 2     node clock minus server clock
    delay  = (t3 - t0) - (t2 - t1)           network round trip; |error| <= delay / 2

Of the last few readings the one with the smallest delay is kept (a reading delayed in
one direction only is the one that lies).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from protocol.messages import NodeStatus

READINGS_KEPT = 8
PENDING_MAX_AGE_S = 30.0  # a ping older than this is no longer waited for


@dataclass(frozen=True)
class ClockReading:
    """One node's clock compared with the server's."""

    offset_s: float  # node minus server: > 0 runs ahead
    delay_s: float  # round trip; the offset is right to within half of it
    at: float  # server time of the measurement

    def describe(self) -> str:
        way = "ahead of" if self.offset_s >= 0 else "behind"
        return f"{abs(self.offset_s):.2f} s {way} the server (±{self.delay_s / 2:.2f} s)"


def measure(status: NodeStatus, received_at: float) -> ClockReading | None:
    """The reading a status carrying a clock echo gives, received at ``received_at``."""
    echo = status.clock
    if echo is None:
        return None
    t0, t1, t2, t3 = echo.sent_at, echo.received_at, status.at, received_at
    delay = (t3 - t0) - (t2 - t1)
    if delay < 0 or t3 < t0:
        return None  # a node that took longer to answer than the round trip lasted lies
    return ClockReading(offset_s=((t1 - t0) + (t2 - t3)) / 2, delay_s=delay, at=t3)


class NodeClocks:
    """Pings this process sent, and each node's recent readings (thread-safe)."""

    def __init__(self, stale_after_s: float = 60.0) -> None:
        self.stale_after_s = stale_after_s
        self._pending: dict[float, float] = {}  # sent_at -> when sent (monotonic)
        self._readings: dict[str, deque[ClockReading]] = {}
        self._lock = threading.Lock()

    def sent(self, sent_at: float) -> None:
        now = time.monotonic()
        with self._lock:
            self._pending = {t: m for t, m in self._pending.items() if now - m < PENDING_MAX_AGE_S}
            self._pending[sent_at] = now

    def record(self, node: str, status: NodeStatus, received_at: float) -> ClockReading | None:
        """Take the reading of an echo of one of this process's pings; ignore others
        (a retained status from long ago, another API process's ping)."""
        if status.clock is None:
            return None
        with self._lock:
            if self._pending.get(status.clock.sent_at) is None:
                return None
        reading = measure(status, received_at)
        if reading is not None:
            self.put(node, reading)
        return reading

    def put(self, node: str, reading: ClockReading) -> None:
        with self._lock:
            self._readings.setdefault(node, deque(maxlen=READINGS_KEPT)).append(reading)

    def get(self, node: str, now: float | None = None) -> ClockReading | None:
        """The best recent reading of ``node`` (smallest delay), or None if none is fresh."""
        now = time.time() if now is None else now
        with self._lock:
            fresh = [r for r in self._readings.get(node, ()) if now - r.at < self.stale_after_s]
        return min(fresh, key=lambda r: r.delay_s) if fresh else None


def capture_refusal(
    clocks: NodeClocks,
    nodes: Iterable[str],
    *,
    countdown_s: float,
    duration_s: float,
    refuse_s: float,
) -> str | None:
    """Why a capture must not start now (a node's clock is surely more than ``refuse_s``
    off), or None."""
    problems = []
    for node in nodes:
        reading = clocks.get(node)
        # Only an offset that is past the limit even at the edge of its error bound: a
        # loaded network must not stop the booth on a reading it cannot vouch for.
        if reading is None or abs(reading.offset_s) - reading.delay_s / 2 <= refuse_s:
            continue
        if reading.offset_s >= countdown_s + duration_s:
            effect = "it would ignore the capture as already over"
        elif reading.offset_s > 0:
            effect = f"it would start filming {reading.offset_s:.1f} s early"
        else:
            effect = f"it would start filming {-reading.offset_s:.1f} s late"
        problems.append(f"node {node}'s clock is {reading.describe()}: {effect}")
    if not problems:
        return None
    return (
        "; ".join(problems)
        + f" (limit ±{refuse_s:g} s). Synchronise its clock (timedatectl, chrony) and retry."
    )
