"""Rate-limited reports: one log line per interval for a failure that repeats, with a
count of the ones held back, so the first failure is seen and later ones are not lost
in a flood."""

from __future__ import annotations

import threading
import time


class Throttle:
    """Lets one report through per ``every_s`` seconds, counting the ones it held back."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.held = 0
        self._next = -float("inf")
        self._lock = threading.Lock()

    def allow(self) -> int | None:
        """None to stay quiet; else how many reports were held back since the last one."""
        now = time.monotonic()
        with self._lock:
            if now < self._next:
                self.held += 1
                return None
            self._next = now + self.every_s
            held, self.held = self.held, 0
        return held
