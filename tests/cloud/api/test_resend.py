"""The operator's Re-send on a delivered visitor, in the demo's shape: the API served over
HTTP on one SQLite file (or PostgreSQL) while an event stream listens and another process
keeps writing, as the uploader's batch store does. It answers at once and blocks nobody."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import httpx
from sqlalchemy import select

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_session
from cloud.db.models import DeadLetter, Rendition, Session, utcnow
from cloud.db.states import SessionState
from cloud.delivery.tokens import issue_token, token_digest
from cloud.render.inputs import rendition_key
from tests.cloud.api.conftest import CSRF, PASSWORD, Booth

SID = "sdone"
TIMEOUT_S = 5.0  # far below SQLite's 30 s busy timeout: a request waiting on a lock fails


OLD_TOKEN = "Z" * 43
TOKEN = re.compile(r"/r/([A-Za-z0-9_-]{22,})")


def _delivered(booth: Booth) -> None:
    token = issue_token(timedelta(days=1))
    object.__setattr__(token, "token", OLD_TOKEN)
    object.__setattr__(token, "digest", token_digest(OLD_TOKEN))
    booth.storage.put(rendition_key(SID, "wave-party"), b"video", "video/mp4")
    with transaction(session_factory(booth.engine)) as db:
        row = ensure_session(db, "booth1", SID, SessionState.DELIVERED)
        row.email, row.consent = "ana@example.com", True
        db.add(
            Rendition(
                session_id=SID,
                video_key=rendition_key(SID, "wave-party"),
                dance="wave-party",
                token_digest=token.digest,
                expires_at=token.expires_at,
                emailed_at=utcnow(),
            )
        )


class Writer(threading.Thread):
    """Commits a small row every 50 ms, as the uploader does per batch; records its worst wait."""

    def __init__(self, booth: Booth) -> None:
        super().__init__(daemon=True)
        self.factory = session_factory(booth.engine)
        self.stop, self.worst_s, self.errors = threading.Event(), 0.0, list[str]()

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                with transaction(self.factory) as db:
                    db.add(DeadLetter(topic="t", reason="writer", size=0, sha256="0" * 64))
            except Exception as exc:
                self.errors.append(repr(exc))
            self.worst_s = max(self.worst_s, time.monotonic() - started)
            self.stop.wait(0.05)


def test_resend_answers_at_once_while_others_write(booth: Booth, server: str) -> None:
    _delivered(booth)
    with httpx.Client(base_url=server, timeout=TIMEOUT_S, headers=CSRF) as http:
        login = http.post("/api/auth/login", json={"name": "alice", "password": PASSWORD})
        assert login.status_code == 200, login.text
        writer = Writer(booth)
        writer.start()
        with http.stream("GET", "/api/events") as events:  # an operator's dashboard
            assert events.status_code == 200
            started = time.monotonic()
            r = http.post(f"/api/renditions/{SID}/resend")
            took = time.monotonic() - started
        writer.stop.set()
        writer.join()
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "mail_pending" and r.json()["mail"] == "pending"
    assert writer.errors == []
    assert writer.worst_s < TIMEOUT_S, f"a writer waited {writer.worst_s:.1f} s"
    print(f"re-send answered in {took * 1000:.0f} ms")
    _wait_delivered(booth)  # the woken flusher sent it
    (eml,) = booth.settings.mail.directory.glob("*.eml")  # type: ignore[union-attr]
    token = TOKEN.search(eml.read_text())
    assert token is not None
    with httpx.Client(base_url=server, timeout=TIMEOUT_S) as visitor:
        assert visitor.get(f"/r/{token.group(1)}").status_code == 200  # the new link opens
        assert visitor.get(f"/r/{OLD_TOKEN}").status_code == 404  # the old one no longer


def _wait_delivered(booth: Booth, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with session_factory(booth.engine)() as db:
            if db.scalar(select(Session.state).where(Session.id == SID)) is SessionState.DELIVERED:
                return
        assert time.monotonic() < deadline, "the re-sent email never went out"
        time.sleep(0.05)
