"""Rate limits of the public edges: kiosk registrations per client, operator logins.

In memory, per API process: behind N processes a client gets at most N × a limit,
which is still a hard cap on what it can be abused for.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from cloud.api.errors import AuthError, BusyError, ThrottledError

MAX_CLIENTS = 10_000  # forget the least recent key beyond this, bounding memory


class SlidingWindow:
    """Events per key in the last ``window_s`` seconds, allowing ``limit`` of them."""

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._hits.pop(key, None) or deque()
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        self._hits[key] = hits  # re-inserted: the dict stays in least-recent order
        if len(self._hits) > MAX_CLIENTS:
            del self._hits[next(iter(self._hits))]
        return hits

    def wait(self, key: str, *, count: bool = False) -> float:
        """0 if ``key`` is under its limit (with ``count``: and count one event), else the
        seconds until it will be."""
        now = time.monotonic()
        with self._lock:
            hits = self._recent(key, now)
            if len(hits) >= self.limit:
                return hits[0] + self.window_s - now
            if count:
                hits.append(now)
            return 0.0

    def add(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent(key, now).append(now)

    def clear(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)


class RateLimiter(SlidingWindow):
    def retry_after(self, client: str) -> float:
        """0 if ``client`` may proceed now (and count it), else seconds until it may."""
        return self.wait(client, count=True)


class LoginGuard:
    """Throttles failed logins per account and per client address, and bounds how many
    password checks run at once: each argon2 verification holds 64 MiB, so a burst of
    bogus logins must queue instead of exhausting the process's memory."""

    def __init__(
        self,
        per_account: int,
        per_address: int,
        window_s: float,
        concurrency: int,
        queue_s: float = 5.0,
    ) -> None:
        self.accounts = SlidingWindow(per_account, window_s)
        self.addresses = SlidingWindow(per_address, window_s)
        self._slots = threading.BoundedSemaphore(concurrency)
        self.queue_s = queue_s

    @contextmanager
    def attempt(self, name: str, address: str) -> Iterator[None]:
        """Around one password check. Raises ThrottledError before it when the account or
        the address failed too often, BusyError when no check slot frees within
        ``queue_s``; an AuthError inside counts as a failure of both."""
        account = name.casefold()
        wait = max(self.accounts.wait(account), self.addresses.wait(address))
        if wait:
            raise ThrottledError("too many failed logins: wait before trying again", wait)
        if not self._slots.acquire(timeout=self.queue_s):
            raise BusyError("too many logins at once: try again in a moment", 1.0)
        try:
            yield
        except AuthError:
            self.accounts.add(account)
            self.addresses.add(address)
            raise
        finally:
            self._slots.release()
        self.accounts.clear(account)
