"""Driving the booth as its people do, over HTTP only: visitors register at the kiosk, the
operator logs in, calls each visitor, starts the capture and watches the dashboard's
event stream; a visitor may ask for their data to be deleted.

What the driver sees is recorded for the checks: the state the operator was shown for
each visitor and when, and every (re)connection of the event stream.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from dancebooth.rehearsal.processes import RehearsalError

logger = logging.getLogger(__name__)

CSRF = {"X-Dancebooth": "1"}
UPLOADED = {"uploaded", "queued", "training", "rendering", "delivered", "needs_review"}
SETTLED = {"delivered", "needs_review", "failed", "retake", "deleted"}


@dataclass
class Visitor:
    number: int
    session_id: str
    email: str
    deletes: bool = False  # asks for their data to be deleted mid-pipeline
    captured: tuple[float, float] | None = None  # (start, end), Unix s
    states: dict[str, float] = field(default_factory=dict)  # state -> first seen (Unix s)

    @property
    def label(self) -> str:
        return f"visitor {self.number}"


@dataclass
class Capturing:
    """The capture in progress (for the faults that strike mid-capture)."""

    visitor: int
    start_at: float
    duration_s: float


class Driver:
    """One kiosk and one operator session against the API."""

    def __init__(self, url: str, operator: str, password: str, deadline: float) -> None:
        self.url, self.operator, self.password, self.deadline = url, operator, password, deadline
        self.http = httpx.Client(base_url=url, timeout=20)
        self.capturing: Capturing | None = None
        self.retried = 0  # requests that failed on the wire and were sent again

    def close(self) -> None:
        self.http.close()

    def left(self, what: str) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RehearsalError(f"timed out waiting for {what} (raise --timeout)")
        return left

    def call(self, method: str, path: str, what: str, retry: int | None = None, **kw: Any) -> Any:
        """The JSON answer. A request the wire lost (an API process died under it) is sent
        again, as a browser's user would; ``retry`` names one status also worth a retry."""
        for attempt in range(40):
            try:
                response = self.http.request(method, path, headers=CSRF, **kw)
            except httpx.TransportError as exc:
                logger.info("%s: %s; sending it again", what, exc)
            else:
                if response.status_code != retry:
                    if response.is_error:
                        raise RehearsalError(
                            f"{what}: HTTP {response.status_code} {response.text[:300]}"
                        )
                    return response.json()
                logger.info("%s: HTTP %d for now; again", what, retry)
            self.retried += 1
            self.left(what)
            time.sleep(min(0.25 * (attempt + 1), 2.0))
        raise RehearsalError(f"{what}: the API kept failing")

    def wait_for(self, what: str, ready: Callable[[], bool], poll_s: float = 0.5) -> None:
        while not ready():
            self.left(what)
            time.sleep(poll_s)

    # -- kiosk and operator --------------------------------------------------------------
    def register(self, count: int, deleter: bool) -> list[Visitor]:
        out = []
        for i in range(1, count + 1):
            email = f"visitor{i}@rehearsal.example"
            # The first also lets the live mirror wear their model (checked at the end).
            body = {"email": email, "consent": True, "mirror_consent": i == 1}
            row = self.call("POST", "/api/visitors", "kiosk registration", json=body)
            out.append(Visitor(i, row["id"], email, deletes=deleter and i == count))
        return out

    def login(self) -> None:
        body = {"name": self.operator, "password": self.password}
        self.call("POST", "/api/auth/login", "operator login", json=body)

    def wait_nodes(self, names: tuple[str, ...]) -> None:
        def online() -> bool:
            nodes = self.call("GET", "/api/booth/nodes", "node list")
            return {n["id"] for n in nodes if n["online"]} >= set(names)

        self.wait_for(f"edge nodes {', '.join(names)} to come online", online)

    def capture(self, visitor: Visitor, tick: Callable[[str, float], None]) -> None:
        """Call the visitor and film them; ``tick`` gets (what, share done) while it runs."""
        self.call("POST", "/api/booth/next", "calling the next visitor")
        ref = {"session_id": visitor.session_id}
        started = self.call("POST", "/api/booth/capture", "starting the capture", 503, json=ref)
        start_at, duration = float(started["start_at"]), float(started["duration_s"])
        self.capturing = Capturing(visitor.number, start_at, duration)
        try:
            while (now := time.time()) < start_at + duration:
                if now < start_at:
                    tick(f"{visitor.label}: countdown {start_at - now:.0f} s", 0.0)
                else:
                    tick(f"{visitor.label}: dancing", (now - start_at) / duration)
                time.sleep(0.2)
        finally:
            self.capturing = None
        visitor.captured = (start_at, start_at + duration)

    def status(self, visitor: Visitor) -> str:
        path = f"/api/visitors/{visitor.session_id}/status"
        state: str = self.call("GET", path, "visitor status")["state"]
        return state

    def wait_uploaded(self, visitor: Visitor) -> None:
        self.wait_for(f"the frames of {visitor.label}", lambda: self.status(visitor) in UPLOADED)

    def board(self) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """What the operator's dashboard shows: visitors and fine-tune jobs by session."""
        visitors = self.call("GET", "/api/visitors", "visitor list")
        jobs = self.call("GET", "/api/jobs", "job list")
        return (
            {v["id"]: v for v in visitors},
            {j["session_id"]: j for j in jobs if j["kind"] == "finetune"},
        )

    def delete(self, visitor: Visitor) -> None:
        """The visitor asks at the booth; the operator deletes their data."""
        self.call("DELETE", f"/api/visitors/{visitor.session_id}", "deleting a visitor's data")


class EventStream:
    """The dashboard's server-sent event stream, kept open and reconnected like a browser's
    ``EventSource`` does; records when it connected and what came in."""

    def __init__(self, url: str, cookies: httpx.Cookies) -> None:
        self.url, self.cookies = url, cookies
        self.connects: list[float] = []
        self.events: list[float] = []
        self.local_port: int | None = None  # of the connection open now
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-stream", daemon=True)

    def start(self) -> EventStream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def events_since(self, t: float) -> int:
        return sum(1 for e in self.events if e > t)

    def _run(self) -> None:
        timeout = httpx.Timeout(10, read=None)
        with httpx.Client(base_url=self.url, cookies=self.cookies, timeout=timeout) as http:
            while not self._stop.is_set():
                try:
                    self._listen(http)
                except httpx.HTTPError as exc:
                    logger.info("event stream lost (%s); reconnecting", exc)
                self.local_port = None
                self._stop.wait(1.0)  # EventSource's default retry is a few seconds

    def _listen(self, http: httpx.Client) -> None:
        with http.stream("GET", "/api/events", headers=CSRF) as response:
            if response.status_code != 200:
                logger.warning("event stream: HTTP %d", response.status_code)
                return
            sock = response.extensions["network_stream"].get_extra_info("socket")
            self.local_port = sock.getsockname()[1] if sock is not None else None
            self.connects.append(time.time())
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith("event:"):
                    self.events.append(time.time())
