"""What the ingest side holds right now: nodes, recent sessions with upload progress,
and dead letters (``dancebooth cloud status``; the API reads the same tables)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session as Db

from cloud.db.models import DeadLetter, Frame, Manifest, Node
from cloud.db.models import Session as SessionRow


@dataclass(frozen=True)
class NodeView:
    booth: str
    node: str
    state: str
    session: str | None
    seen_at: datetime | None
    capture_fps: float
    dropped: int
    unmasked: int = 0  # frames the node sent without a person mask (trained full-frame)


@dataclass(frozen=True)
class SessionView:
    session: str
    state: str
    created_at: datetime
    frames: dict[str, int]  # node -> stored frames
    expected: dict[str, int]  # node -> frames its manifest promises
    resend_requests: int


def nodes(db: Db) -> list[NodeView]:
    rows = db.scalars(select(Node).order_by(Node.booth_id, Node.id)).all()
    return [
        NodeView(
            n.booth_id,
            n.id,
            n.state,
            n.session_id,
            n.seen_at,
            float(n.stats.get("capture_fps", 0.0)),
            int(n.stats.get("dropped_frames", 0)),
            int(n.stats.get("unmasked_frames", 0)),
        )
        for n in rows
    ]


def recent_sessions(db: Db, limit: int = 20) -> list[SessionView]:
    rows = db.scalars(select(SessionRow).order_by(SessionRow.created_at.desc()).limit(limit)).all()
    out = []
    for s in rows:
        counts = db.execute(
            select(Frame.node_id, func.count())
            .where(Frame.session_id == s.id)
            .group_by(Frame.node_id)
        ).all()
        manifests = db.scalars(select(Manifest).where(Manifest.session_id == s.id)).all()
        out.append(
            SessionView(
                s.id,
                s.state.value,
                s.created_at,
                {n: int(c) for n, c in counts},
                {m.node_id: m.expected for m in manifests},
                sum(m.resend_requests for m in manifests),
            )
        )
    return out


def dead_letters(db: Db, limit: int = 5) -> tuple[int, list[DeadLetter]]:
    total = int(db.scalar(select(func.count()).select_from(DeadLetter)) or 0)
    latest = db.scalars(select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)).all()
    return total, list(latest)
