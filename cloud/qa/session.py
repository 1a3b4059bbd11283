"""A stored session read back and scored: every node's keypoints, a sample of its JPEGs,
and the reference dance the visitor will be rendered performing."""

from __future__ import annotations

import logging
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.models import Session as SessionRow
from cloud.ingest.reader import iter_session_frames
from cloud.qa.report import NodeClip, QaReport, assess, sample_frames
from cloud.settings import CaptureQaSettings
from cloud.storage import Storage
from protocol.shards import FrameMeta

logger = logging.getLogger(__name__)


class QaInputError(ValueError):
    """A session QA cannot read (no frames, unknown dance); the message says why."""


def node_clips(frames: list[tuple[FrameMeta, bytes]], q: CaptureQaSettings) -> list[NodeClip]:
    """Each node's frames (in capture order) as a :class:`NodeClip` with sampled JPEGs."""
    by_node: dict[str, list[tuple[FrameMeta, bytes]]] = defaultdict(list)
    for meta, jpeg in frames:
        by_node[meta.node].append((meta, jpeg))
    clips = []
    for node in sorted(by_node):
        # Stored frames are the latest take's: a retake supersedes the earlier one
        # (cloud.ingest.takes).
        items = sorted(by_node[node], key=lambda item: item[0].capture_ns)
        kps = np.stack([m.keypoints_array() for m, _ in items])
        picks = sample_frames(len(items), q)
        first = items[0][0]
        clips.append(
            NodeClip(
                node,
                kps,
                first.width,
                first.height,
                tuple(items[i][1] for i in picks),
                tuple(picks),
            )
        )
    return clips


def reference_keypoints(
    db: Db, storage: Storage, dance: str | None
) -> tuple[np.ndarray | None, str | None]:
    """The dance's ``[T, 17, 3]`` keypoints (built-in or added), or None for no dance."""
    if not dance:
        return None, None
    from cloud.dances import DanceError
    from cloud.dances.library import load_dance

    with tempfile.TemporaryDirectory(prefix="dancebooth-qa-") as tmp:
        try:
            ref = load_dance(db, storage, dance, Path(tmp))
        except DanceError as exc:
            raise QaInputError(f"dance {dance}: {exc}") from None
        return ref.keypoints, ref.name


def assess_session(
    storage: Storage,
    factory: sessionmaker[Db],
    session: str,
    q: CaptureQaSettings,
    default_dance: str | None = None,
) -> QaReport:
    """Score ``session`` as stored against its dance (``default_dance`` if it has none)."""
    frames = list(iter_session_frames(storage, factory, session))
    if not frames:
        raise QaInputError(f"session {session} has no stored frames")
    with factory() as db:
        row = db.get(SessionRow, session)
        dance = (row.dance if row is not None else None) or default_dance
        reference, name = reference_keypoints(db, storage, dance)
    return assess(node_clips(frames, q), reference, q, name)
