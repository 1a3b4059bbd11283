"""Driving the demo booth as its people would: the kiosk, the operator, the visitor's inbox.

Everything goes through the API over HTTP (registration, login, capture, job progress);
the uploaded-frame counts come from the database the uploader writes, and the link from
the outbox email, exactly where a visitor would find it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from dancebooth.demo_booth import OPERATOR, DemoBooth, DemoError

logger = logging.getLogger(__name__)

CSRF = {"X-Dancebooth": "1"}
UPLOADED = {"uploaded", "queued", "training", "rendering", "mail_pending", "delivered"}


@dataclass(frozen=True)
class Visitor:
    number: int
    session_id: str
    email: str

    @property
    def label(self) -> str:
        return f"visitor {self.number}"

    @property
    def seed(self) -> int:
        return self.number  # synthetic visitor number N dances for booth visitor N


@dataclass
class Delivery:
    session_id: str
    email: str
    link: str
    eml: Path
    video: Path
    seconds_from_start: float


@dataclass(frozen=True)
class Held:
    """A visitor whose video the quality gate held for the operator, and why."""

    session_id: str
    reason: str
    seconds_from_start: float


Outcome = Delivery | Held


class Driver:
    """One operator session against the demo's API; each stage raises :class:`DemoError`."""

    def __init__(self, booth: DemoBooth, console: Console, deadline: float, t0: float) -> None:
        self.booth, self.console, self.deadline, self.t0 = booth, console, deadline, t0
        self.http = httpx.Client(base_url=booth.url, timeout=30)
        self._shown: dict[str, tuple[str, int]] = {}

    def close(self) -> None:
        self.http.close()

    def _check(
        self, request: Callable[[], httpx.Response], what: str, retry: int | None = None
    ) -> Any:
        """The JSON answer; None if the status is ``retry``; else a :class:`DemoError`."""
        try:
            response = request()
        except httpx.HTTPError as exc:
            raise DemoError(f"{what} failed: the API did not answer ({exc})") from None
        if response.status_code == retry:
            logger.warning("%s: HTTP %d for now, retrying", what, retry)
            return None
        if response.is_error:
            raise DemoError(f"{what} failed: HTTP {response.status_code} {response.text[:300]}")
        return response.json()

    def _left(self, what: str) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DemoError(f"timed out waiting for {what} (raise --timeout)")
        return left

    def wait_for(self, what: str, ready: Callable[[], bool], poll_s: float = 0.25) -> None:
        while not ready():
            self._left(what)
            time.sleep(poll_s)

    # -- the kiosk and the operator --------------------------------------------------
    def register(self, visitors: int) -> list[Visitor]:
        out = []
        for i in range(visitors):
            email = f"visitor{i + 1}@example.com"
            # They tick the live-mirror box too: once delivered, the dashboard's Live
            # mirror card can put them on the mirror ("Dance as").
            body = {"email": email, "consent": True, "mirror_consent": True}
            row = self._check(
                lambda body=body: self.http.post("/api/visitors", json=body),  # type: ignore[misc]
                "kiosk registration",
            )
            out.append(Visitor(i + 1, row["id"], email))
        return out

    def login(self) -> None:
        body = {"name": OPERATOR, "password": self.booth.password}
        self._check(
            lambda: self.http.post("/api/auth/login", json=body, headers=CSRF), "operator login"
        )

    def _nodes(self) -> list[dict[str, Any]]:
        """The booth's nodes as the dashboard lists them."""
        nodes: list[dict[str, Any]] = self._check(
            lambda: self.http.get("/api/booth/nodes", headers=CSRF), "node list"
        )
        return nodes

    def wait_nodes(self, names: list[str]) -> None:
        def online() -> bool:
            return {n["id"] for n in self._nodes() if n["online"]} >= set(names)

        self.wait_for(f"edge nodes {', '.join(names)} to come online", online)

    def wait_plates(self, names: list[str], within_s: float) -> list[str]:
        """Give the nodes ``within_s`` to take their clean plates of the empty booth (as a
        booth does at start-up); the nodes still without one (their renditions are drawn
        over the clip's median instead)."""
        until = time.monotonic() + within_s
        while True:
            missing = [n["id"] for n in self._nodes() if n["id"] in names and not n.get("plate")]
            if not missing or time.monotonic() >= until:
                return missing
            self._left("the nodes' clean plates")
            time.sleep(0.25)

    def capture(self, visitor: Visitor, progress: Progress) -> None:
        """Call the visitor, start the capture, show the countdown and the recording."""
        with self.booth.roster.lock:
            self.booth.roster.seed = visitor.seed  # who stands in front of the cameras
        self._check(
            lambda: self.http.post("/api/booth/next", headers=CSRF), "calling the next visitor"
        )
        started = self._start_capture(visitor.session_id)
        start_at, duration = float(started["start_at"]), float(started["duration_s"])
        wait = max(start_at - time.time(), 0.1)
        progress.console.print(
            f"{visitor.label} ({visitor.email}): every node starts "
            f"recording in {wait:.0f} s, for {duration:g} s"
        )
        task = progress.add_task(f"{visitor.label}: countdown", total=wait)
        while (left := start_at - time.time()) > 0:
            progress.update(
                task, description=f"{visitor.label}: countdown {left:.0f} s", completed=wait - left
            )
            time.sleep(0.1)
        progress.update(task, total=duration, completed=0)
        while (done := time.time() - start_at) < duration:
            progress.update(
                task, description=f"{visitor.label}: dancing {done:.0f} s", completed=done
            )
            time.sleep(0.2)
        progress.update(
            task, description=f"{visitor.label}: danced {duration:g} s", completed=duration
        )

    def _start_capture(self, session_id: str) -> Any:
        """POST the capture; a 503 (the broker link is reconnecting) is retried, as an
        operator would press the button again."""
        ref = {"session_id": session_id}
        for _ in range(30):
            response = self._check(
                lambda: self.http.post("/api/booth/capture", json=ref, headers=CSRF),
                "starting the capture",
                retry=503,
            )
            if response is not None:
                return response
            time.sleep(0.5)
        raise DemoError("starting the capture failed: the API's broker link stayed down")

    def wait_uploaded(self, visitor: Visitor, nodes: list[str], progress: Progress) -> None:
        from cloud.db.engine import session_factory
        from cloud.ingest.status import recent_sessions

        sid = visitor.session_id
        tasks = {n: progress.add_task(f"{visitor.label}: {n}", total=None) for n in nodes}
        factory = session_factory(self.booth.engine)
        while True:
            with factory() as db:
                view = next(v for v in recent_sessions(db, 50) if v.session == sid)
            for n, task in tasks.items():
                got, expected = view.frames.get(n, 0), view.expected.get(n)
                label = f"{visitor.label}: {n} {got}/{expected or '?'} frames uploaded"
                progress.update(task, description=label, completed=got, total=expected)
            if view.state in UPLOADED:
                counts = ", ".join(f"{n} {view.frames.get(n, 0)}" for n in nodes)
                progress.console.print(f"{visitor.label}: frames uploaded: {counts}")
                return
            if view.state in {"failed", "retake", "deleted"}:
                raise DemoError(f"session {sid} is {view.state} after the capture")
            self._left(f"the frames of {sid}")
            time.sleep(0.3)

    # -- the worker ------------------------------------------------------------------
    def jobs(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._check(
            lambda: self.http.get("/api/jobs", headers=CSRF), "jobs"
        )
        return rows

    def wait_delivered(self, visitors: list[Visitor], progress: Progress) -> list[Outcome]:
        """Each visitor's video delivered, or held for review by the quality gate."""
        by_sid = {v.session_id: v for v in visitors}
        tasks = {
            v.session_id: progress.add_task(f"{v.label}: queued", total=100.0) for v in visitors
        }
        done: dict[str, Outcome] = {}
        while len(done) < len(visitors):
            for job in self.jobs():
                sid = job["session_id"]
                if sid not in by_sid or sid in done or job["kind"] != "finetune":
                    continue
                self._show(progress, tasks[sid], by_sid[sid], job)
                if job["state"] == "succeeded":
                    held = self._check_delivered(by_sid[sid], job)
                    label = by_sid[sid].label
                    if held is None:
                        done[sid] = self._delivery(sid, by_sid[sid].email)
                        end = f"{label}: delivered"
                    else:
                        done[sid] = Held(sid, held, time.monotonic() - self.t0)
                        end = f"{label}: held for review"
                    progress.update(tasks[sid], description=end, completed=100)
                elif job["state"] in {"failed", "cancelled"}:
                    raise DemoError(
                        f"the job of {sid} {job['state']}: {job['error']}{_hint(job['error'])}"
                    )
            self._left("the deliveries")
            time.sleep(0.5)
        return [done[v.session_id] for v in visitors]

    def _check_delivered(self, visitor: Visitor, job: dict[str, Any]) -> str | None:
        """A finished job may also mean "held for the operator" (the quality gate): None
        when delivered, else the gate's reason."""
        deadline = time.monotonic() + 10  # the session moves just after the job ends
        while True:
            state = self._check(
                lambda: self.http.get(f"/api/visitors/{visitor.session_id}/status"), "status"
            )["state"]
            if state == "delivered":
                return None
            if state == "needs_review":
                return self._held_reason(visitor.session_id)
            if state in {"mail_failed", "failed", "retake", "deleted"} or (
                time.monotonic() > deadline
            ):
                reason = job.get("error") or ""
                why = f" ({reason})" if reason else ""
                raise DemoError(
                    f"{visitor.label}'s video was not delivered: the session is "
                    f"{state}{why}{_hint(reason or state)}"
                )
            time.sleep(0.2)

    def _held_reason(self, session_id: str) -> str:
        from cloud.db.models import Session

        with self.booth.factory() as db:
            row = db.get(Session, session_id)
            error = (row.error if row is not None else None) or "no reason recorded"
        return error.removeprefix("needs review: ")

    def _show(
        self, progress: Progress, task: TaskID, visitor: Visitor, job: dict[str, Any]
    ) -> None:
        # The job's step is the last one finished; the visitor's state says what runs now.
        state = self._check(
            lambda: self.http.get(f"/api/visitors/{visitor.session_id}/status"), "visitor status"
        )["state"]
        label = "emailing" if job["step"] == "render" else state
        pct = 100.0 * float(job["progress"])
        eta = f", ETA {job['eta_s']:.0f} s" if job.get("eta_s") else ""
        text = f"{visitor.label}: {label} (job {pct:.0f}%{eta})"
        progress.update(task, description=text, completed=pct)
        # A log (no terminal) gets a line per step and per 10% instead of a live bar.
        mark = (label, 0 if progress.console.is_terminal else int(pct // 10))
        if self._shown.get(visitor.session_id) != mark:
            self._shown[visitor.session_id] = mark
            progress.console.print(text)

    def _delivery(self, session_id: str, email: str) -> Delivery:
        from cloud.db.models import Rendition

        assert self.booth.settings is not None
        settings = self.booth.settings
        eml, link = find_link(settings.mail.directory, email, settings.api.public_url)  # type: ignore[union-attr]
        with self.booth.factory() as db:
            row = db.get(Rendition, session_id)
            if row is None or not row.video_key:
                raise DemoError(f"session {session_id} was delivered without a rendition row")
            key = row.video_key
        video = Path(settings.storage.root) / key  # type: ignore[union-attr]
        return Delivery(session_id, email, link, eml, video, time.monotonic() - self.t0)


def _hint(reason: str) -> str:
    if "review" in reason:
        return (
            " (the quality gate held the video: a larger --budget trains longer; an "
            "operator can review it in the UI)"
        )
    return ""


def find_link(outbox: Path, email: str, public_url: str) -> tuple[Path, str]:
    """The newest outbox email to ``email`` and the rendition link in it."""
    pattern = re.compile(re.escape(public_url.rstrip("/")) + r"/r/[A-Za-z0-9_\-]+")
    for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        if email not in str(msg["To"]):
            continue
        body = msg.get_body(preferencelist=("plain", "html"))
        match = pattern.search(body.get_content() if body is not None else "")
        if match:
            return path, match.group(0)
    raise DemoError(f"no email with a rendition link to {email} in {outbox}")


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
