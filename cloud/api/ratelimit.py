"""A per-client sliding-window rate limit for the public kiosk endpoint.

In memory, per API process: behind N processes a client gets at most N × the limit,
which is still a hard cap on what a kiosk can be abused for.
"""

from __future__ import annotations

import threading
import time
from collections import deque

MAX_CLIENTS = 10_000  # forget the oldest client beyond this, bounding memory


class RateLimiter:
    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> float:
        """0 if ``client`` may proceed now (and count it), else seconds until it may."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.pop(client, None) or deque()
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            self._hits[client] = hits  # re-inserted: the dict stays in least-recent order
            if len(self._hits) > MAX_CLIENTS:
                del self._hits[next(iter(self._hits))]
            if len(hits) >= self.limit:
                return hits[0] + self.window_s - now
            hits.append(now)
            return 0.0
