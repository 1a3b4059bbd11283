"""Deletion that reaches the nodes: erase requests to the booth's spools and their answers.

A node keeps acknowledged frames for ``spool.keep_acked_s`` to serve resend requests, so
a visitor's deletion in the cloud alone would leave their frames on the booth's hardware.
:func:`cloud.retention.erase` therefore records one :class:`~cloud.db.models.NodeErasure`
row per node of the booth (every node the cloud has seen, plus any that sent frames of
the session) in the same transaction that deletes the rows: an outbox.

:class:`EraseRelay` (run by the uploader, the process holding the cloud's MQTT
connection and the nodes' traffic) publishes one **retained** ``EraseRequest`` per
session on ``{prefix}/{booth}/cmd/erase/{session}``. Retained rather than queued on
the nodes' persistent sessions because:

* a node's session is clean (its commands are about "now"; a queued capture command
  would be wrong), and a node that was replaced, re-imaged or never connected has no
  session to queue into, while a retained message reaches whoever subscribes next;
* retained messages survive a broker restart with ``persistence true`` (the shared
  block of ``infra/mosquitto/*.conf``) like queued ones do;
* the ACL needs nothing new: a node already reads ``{prefix}/{booth}/cmd/#`` and
  writes only under its own ``node/{node}/#``, where its answer goes
  (``erased/{session}``); only the cloud account may write a command.

Each node answers with an ``EraseAck`` (``erased`` with the frames removed, or
``unknown``: it holds nothing of the session), recorded by the ingestor through
:func:`record_ack`. When every node listed has answered, the relay clears the retained
request (an empty retained payload), so a node's reconnect only replays the pending
ones. A late ``unknown`` (the request replayed after the node erased) never hides an
earlier ``erased``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.engine import transaction
from cloud.db.models import Frame, Manifest, Node, NodeErasure, utcnow
from cloud.db.models import Session as SessionRow
from protocol.messages import EraseAck, EraseRequest, EraseResult

logger = logging.getLogger(__name__)

PENDING = "pending"

# (topic, payload, retain) -> whether the broker acknowledged it
Publish = Callable[[str, bytes, bool], bool]
TopicFor = Callable[[str, str], str]  # (booth, session) -> the erase request's topic


@dataclass(frozen=True)
class NodeConfirmation:
    node: str
    state: str  # "pending", or an EraseResult value
    frames: int | None
    confirmed_at: datetime | None


def request(db: Db, session_id: str) -> list[str]:
    """Record that every node of the session's booth must erase it; return the nodes.

    Call it before the session's frame rows go (they name nodes the cloud may not have
    a status of). Asking again for a session already asked for adds only new nodes.
    """
    row = db.get(SessionRow, session_id)
    if row is None:
        return []
    booth = row.booth_id
    nodes = set(db.scalars(select(Node.id).where(Node.booth_id == booth)))
    nodes.update(db.scalars(select(Frame.node_id).where(Frame.session_id == session_id)))
    nodes.update(db.scalars(select(Manifest.node_id).where(Manifest.session_id == session_id)))
    known = set(db.scalars(select(NodeErasure.node_id).where(NodeErasure.session_id == session_id)))
    for node in sorted(nodes - known):
        db.add(NodeErasure(session_id=session_id, node_id=node, booth_id=booth))
    db.flush()
    return sorted(nodes)


def record_ack(db: Db, booth: str, ack: EraseAck) -> None:
    """Store a node's answer (a node the request did not list is added)."""
    if db.get(SessionRow, ack.session) is None:
        logger.warning("erase answer from %s for unknown session %s", ack.node, ack.session)
        return
    row = db.get(NodeErasure, (ack.session, ack.node))
    if row is None:
        row = NodeErasure(session_id=ack.session, node_id=ack.node, booth_id=booth)
        db.add(row)
    if row.result == EraseResult.ERASED.value and ack.result is EraseResult.UNKNOWN:
        return  # the request replayed after the node had erased: keep what it removed
    row.result, row.frames, row.confirmed_at = ack.result.value, ack.frames, utcnow()
    db.flush()
    logger.info("node %s: session %s %s (%d frames)", ack.node, ack.session, ack.result, ack.frames)


def confirmations(db: Db, session_id: str) -> list[NodeConfirmation]:
    rows = db.scalars(
        select(NodeErasure)
        .where(NodeErasure.session_id == session_id)
        .order_by(NodeErasure.node_id)
    ).all()
    return [
        NodeConfirmation(r.node_id, r.result or PENDING, r.frames, r.confirmed_at) for r in rows
    ]


def recent(db: Db, booth: str, limit: int = 50) -> list[str]:
    """The sessions of ``booth`` most recently asked to be erased from the nodes."""
    latest = func.max(NodeErasure.requested_at)
    rows = db.execute(
        select(NodeErasure.session_id, latest)
        .where(NodeErasure.booth_id == booth)
        .group_by(NodeErasure.session_id)
        .order_by(latest.desc(), NodeErasure.session_id)
        .limit(limit)
    ).all()
    return [sid for sid, _ in rows]


def booth_summary(db: Db, booth: str) -> dict[str, dict[str, int]]:
    """Per node of ``booth``: how many sessions it confirmed erased, unknown, or not yet."""
    out: dict[str, dict[str, int]] = {}
    for node, result in db.execute(
        select(NodeErasure.node_id, NodeErasure.result).where(NodeErasure.booth_id == booth)
    ):
        counts = out.setdefault(node, {PENDING: 0, "erased": 0, "unknown": 0})
        counts[result or PENDING] += 1
    return out


class EraseRelay:
    """Publishes pending erase requests (retained) and clears the confirmed ones."""

    def __init__(
        self, factory: sessionmaker[Db], booth: str, topic_for: TopicFor, publish: Publish
    ) -> None:
        self.factory, self.booth = factory, booth
        self.topic_for, self.publish = topic_for, publish

    def run(self) -> tuple[int, int]:
        """One pass; return (requests published, requests cleared)."""
        return self._publish_pending(), self._clear_confirmed()

    def _publish_pending(self) -> int:
        with self.factory() as db:
            sessions = sorted(
                set(
                    db.scalars(
                        select(NodeErasure.session_id).where(
                            NodeErasure.booth_id == self.booth, NodeErasure.published_at.is_(None)
                        )
                    )
                )
            )
        done = 0
        for sid in sessions:
            message = EraseRequest(session=sid, requested_at=time.time())
            if not self.publish(self.topic_for(self.booth, sid), message.to_bytes(), True):
                break  # not connected: the next pass tries again
            with transaction(self.factory) as db:
                for row in db.scalars(
                    select(NodeErasure).where(
                        NodeErasure.session_id == sid, NodeErasure.published_at.is_(None)
                    )
                ):
                    row.published_at = utcnow()
            done += 1
            logger.info("erase request for session %s sent to the nodes of %s", sid, self.booth)
        return done

    def _clear_confirmed(self) -> int:
        with self.factory() as db:
            rows = db.execute(
                select(
                    NodeErasure.session_id,
                    NodeErasure.published_at,
                    NodeErasure.result,
                    NodeErasure.cleared_at,
                ).where(NodeErasure.booth_id == self.booth)
            ).all()
        groups: dict[str, list[tuple[object, object, object]]] = {}
        for sid, *rest in rows:
            groups.setdefault(sid, []).append(tuple(rest))  # type: ignore[arg-type]
        ready = [
            sid
            for sid, rs in groups.items()
            if all(p is not None and r is not None for p, r, _ in rs)
            and any(c is None for _, _, c in rs)
        ]
        cleared = 0
        for sid in sorted(ready):
            if not self.publish(self.topic_for(self.booth, sid), b"", True):
                break
            with transaction(self.factory) as db:
                for row in db.scalars(select(NodeErasure).where(NodeErasure.session_id == sid)):
                    row.cleared_at = utcnow()
            cleared += 1
            logger.info("every node confirmed erasing %s; request cleared", sid)
        return cleared
