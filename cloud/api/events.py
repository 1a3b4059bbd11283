"""Server-sent events: one poller per API process fans database changes out to clients.

Every API process polls ``sessions.updated_at``, ``jobs.updated_at`` and
``nodes.seen_at`` (indexed) every ``events_poll_s``; that works unchanged with any
number of API processes on one PostgreSQL (or one SQLite file), with no broker
between them. A row whose transaction commits late may carry an ``updated_at`` a
little older than the last poll, so each poll looks back ``LOOKBACK_S`` and
drops what it already sent (same row, same timestamp).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.models import Job, Node, Session, utcnow
from cloud.jobs.queue import as_utc

logger = logging.getLogger(__name__)

LOOKBACK_S = 5.0
CLIENT_QUEUE = 256  # a client this many polls behind is disconnected rather than buffered forever
KEEPALIVE_S = 15.0


@dataclass(frozen=True)
class Event:
    kind: str  # "session" | "job" | "node"
    data: dict[str, Any]

    @cached_property
    def text(self) -> str:
        """The SSE frame, encoded once however many clients receive it."""
        return f"event: {self.kind}\ndata: {json.dumps(self.data, default=str)}\n\n"


def _session_event(row: Session) -> Event:
    return Event(
        "session",
        {
            "id": row.id,
            "state": row.state.value,
            "error": row.error,
            "updated_at": as_utc(row.updated_at).isoformat(),
        },
    )


def _job_event(row: Job) -> Event:
    return Event(
        "job",
        {
            "id": row.id,
            "session_id": row.session_id,
            "state": row.state.value,
            "step": row.step,
            "progress": row.progress,
            "eta_s": row.eta_s,
            "error": row.error,
            "updated_at": as_utc(row.updated_at).isoformat(),
        },
    )


def _node_event(row: Node) -> Event:
    seen = as_utc(row.seen_at).isoformat() if row.seen_at else None
    return Event(
        "node",
        {
            "id": row.id,
            "state": row.state,
            "stats": row.stats,
            "seen_at": seen,
            "session_id": row.session_id,
        },
    )


class ChangeFeed:
    """Polls the database for changed rows since the last poll."""

    def __init__(self, factory: sessionmaker[Db]) -> None:
        self.factory = factory
        self.since = utcnow()
        self._sent: dict[tuple[str, str], datetime] = {}

    def poll(self) -> list[Event]:
        now = utcnow()
        floor = self.since - timedelta(seconds=LOOKBACK_S)
        events: list[Event] = []
        with self.factory() as db:
            for row in db.scalars(select(Session).where(Session.updated_at >= floor)):
                self._add(events, "session", row.id, row.updated_at, _session_event, row)
            for job in db.scalars(select(Job).where(Job.updated_at >= floor)):
                self._add(events, "job", str(job.id), job.updated_at, _job_event, job)
            for node in db.scalars(select(Node).where(Node.seen_at >= floor)):
                assert node.seen_at is not None
                self._add(events, "node", node.id, node.seen_at, _node_event, node)
        self.since = now
        cutoff = now - timedelta(seconds=2 * LOOKBACK_S)
        self._sent = {k: v for k, v in self._sent.items() if v >= cutoff}
        return events

    def _add(
        self, out: list[Event], kind: str, key: str, at: datetime, build: Any, row: Any
    ) -> None:
        stamp = as_utc(at)
        if self._sent.get((kind, key)) == stamp:
            return
        self._sent[(kind, key)] = stamp
        out.append(build(row))


class Broadcaster:
    """Runs the change feed while anyone listens and hands every event to every client."""

    def __init__(self, factory: sessionmaker[Db], poll_s: float) -> None:
        self.feed = ChangeFeed(factory)
        self.poll_s = poll_s
        self._clients: set[asyncio.Queue[str | None]] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def clients(self) -> int:
        return len(self._clients)

    async def _run(self) -> None:
        while True:
            try:
                events = await asyncio.to_thread(self.feed.poll)
            except Exception:
                logger.exception("event poll failed; retrying")
                events = []
            if events:
                self.publish(events)
            await asyncio.sleep(self.poll_s)

    def publish(self, events: list[Event]) -> None:
        """Hand one poll's events to every client as one chunk (one write per client)."""
        chunk = "".join(event.text for event in events)
        for queue in list(self._clients):
            try:
                queue.put_nowait(chunk)
            except asyncio.QueueFull:
                logger.warning("an event client fell %d events behind; dropping it", CLIENT_QUEUE)
                self._clients.discard(queue)
                with contextlib.suppress(asyncio.QueueFull):
                    queue.get_nowait()
                    queue.put_nowait(None)

    async def stream(self) -> AsyncIterator[str]:
        """The SSE text of one client's stream, with keep-alive comments."""
        queue: asyncio.Queue[str | None] = asyncio.Queue(CLIENT_QUEUE)
        self._clients.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        try:
            yield "retry: 2000\n: connected\n\n"
            while True:
                try:
                    chunk = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if chunk is None:
                    return
                yield chunk
        finally:
            self._clients.discard(queue)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
