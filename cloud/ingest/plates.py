"""Clean plates in: chunks from the nodes, one JPEG per (session, node) out, and the one
function the render pipeline loads a plate with.

Chunks (:mod:`protocol.plates`) may reach different uploaders of a shared subscription,
so each is stored as a ``plate_parts`` row first (idempotent on session, node, plate,
index) and committed; then the uploader counts the plate's parts in a new transaction.
The last one to commit always sees them all (each counts after its own commit), joins
them, checks the CRC, writes ``sessions/{session}/{node}/plate.jpg`` and the ``plates``
row, and deletes the parts. Two uploaders doing it at once write the same bytes.

The plate lives under the session's prefix and its rows cascade with the session, so
retention (captures) and erasure delete it with the frames (:mod:`cloud.retention`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import cv2
import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.engine import transaction
from cloud.db.lifecycle import ensure_session
from cloud.db.models import Frame, Plate, PlatePart, utcnow
from cloud.db.states import SessionState
from cloud.ingest.plate_check import SampledFrame, plate_changes
from cloud.ingest.reader import stored_frames
from cloud.storage import Storage, StorageError
from protocol.errors import PlateError
from protocol.ids import check_id
from protocol.plates import FLAG_OPERATOR, PlateChunk, join_plate
from protocol.shards import read_shard, session_prefix

logger = logging.getLogger(__name__)

PERSON_WARNING = (
    "somebody was in view when the clean plate was taken: retake the plate with the booth empty"
)

CHECK_SAMPLES = 12  # frames the plate is compared with (decoded once, at render time)

PlateImage = npt.NDArray[np.uint8]  # H x W x 3 BGR, the camera's resolution


def plate_key(session: str, node: str) -> str:
    """Object-store key of a node's plate for a session (under the session's prefix)."""
    return f"{session_prefix(session)}{check_id(node, 'node id')}/plate.jpg"


@dataclass
class PlateResult:
    chunks: int = 0
    plates: int = 0  # plates completed (assembled and stored) by this batch


class PlateStore:
    """Stores plate chunks and assembles complete plates."""

    def __init__(self, storage: Storage, factory: sessionmaker[Db]) -> None:
        self.storage, self.factory = storage, factory

    def store(self, booth: str, chunks: Sequence[PlateChunk]) -> PlateResult:
        result = PlateResult()
        plates: dict[tuple[str, str, int], PlateChunk] = {}
        with transaction(self.factory) as db:
            for chunk in chunks:
                ensure_session(db, booth, chunk.session, SessionState.CAPTURING)
                key = (chunk.session, chunk.node, chunk.taken_ns, chunk.index)
                if db.get(PlatePart, key) is None:
                    try:
                        with db.begin_nested():
                            db.add(_part(chunk))
                    except IntegrityError:
                        pass  # another uploader stored it first
                plates[key[:3]] = chunk
                result.chunks += 1
        for chunk in plates.values():  # after the commit: see the other uploaders' parts
            if self._complete(chunk):
                result.plates += 1
        return result

    def _complete(self, chunk: PlateChunk) -> bool:
        where = (
            PlatePart.session_id == chunk.session,
            PlatePart.node_id == chunk.node,
            PlatePart.taken_ns == chunk.taken_ns,
        )
        with transaction(self.factory) as db:
            have = db.scalar(select(func.count()).select_from(PlatePart).where(*where))
            if have != chunk.count:
                return False
            parts = list(db.scalars(select(PlatePart).where(*where)))
            stored = [_chunk_of(p, chunk) for p in parts]
        try:
            jpeg = join_plate(stored)
        except PlateError as exc:
            logger.error("plate of %s/%s dropped: %s", chunk.session, chunk.node, exc)
            with transaction(self.factory) as db:
                db.execute(delete(PlatePart).where(*where))
            return False
        key = plate_key(chunk.session, chunk.node)
        self.storage.put(key, jpeg, "image/jpeg")
        with transaction(self.factory) as db:
            row = db.get(Plate, (chunk.session, chunk.node))
            taken = datetime.fromtimestamp(chunk.taken_ns / 1e9, UTC)
            if row is None:
                row = Plate(session_id=chunk.session, node_id=chunk.node)
                db.add(row)
            row.key, row.taken_at, row.bytes = key, taken, len(jpeg)
            row.width, row.height = chunk.width, chunk.height
            row.by_operator = bool(chunk.flags & FLAG_OPERATOR)
            row.warning = PERSON_WARNING if chunk.person else None
            row.stored_at = utcnow()
            db.execute(delete(PlatePart).where(*where))
        logger.info(
            "plate of %s/%s stored (%dx%d, %d bytes)%s",
            chunk.session,
            chunk.node,
            chunk.width,
            chunk.height,
            len(jpeg),
            f": {PERSON_WARNING}" if chunk.person else "",
        )
        return True


def _part(c: PlateChunk) -> PlatePart:
    return PlatePart(
        session_id=c.session,
        node_id=c.node,
        taken_ns=c.taken_ns,
        index=c.index,
        count=c.count,
        data=c.data,
    )


def _chunk_of(part: PlatePart, like: PlateChunk) -> PlateChunk:
    return PlateChunk(
        session=like.session,
        node=like.node,
        taken_ns=like.taken_ns,
        width=like.width,
        height=like.height,
        index=part.index,
        count=part.count,
        total_bytes=like.total_bytes,
        jpeg_crc=like.jpeg_crc,
        data=part.data,
        flags=like.flags,
    )


def load_plate(
    storage: Storage,
    factory: sessionmaker[Db],
    session: str,
    node: str | None = None,
    *,
    check: bool = True,
) -> PlateImage | None:
    """The session's clean plate (``node``'s, else that of the node with most frames) as
    an H x W x 3 BGR array at the camera's resolution; None when there is none (an old
    node, a capture before the first plate) or it does not match the frames' size — the
    renderer then draws the whole frame.

    With ``check``, the plate is first compared with the session's own frames
    (:mod:`cloud.ingest.plate_check`); a plate that is not their background gets a
    warning on its row, which the dashboard shows, and is still returned."""
    with transaction(factory) as db:
        if node is None:
            node = db.scalar(
                select(Frame.node_id)
                .where(Frame.session_id == session)
                .group_by(Frame.node_id)
                .order_by(func.count().desc(), Frame.node_id)
                .limit(1)
            )
        if node is None:
            rows = list(db.scalars(select(Plate).where(Plate.session_id == session)))
            row = rows[0] if rows else None
        else:
            row = db.get(Plate, (session, node))
        if row is None:
            return None
        key, size = row.key, (row.width, row.height)
        frame_size = db.execute(
            select(Frame.width, Frame.height)
            .where(Frame.session_id == session, Frame.node_id == row.node_id)
            .where(Frame.width.is_not(None))
            .limit(1)
        ).first()
    if frame_size is not None and tuple(frame_size) != size:
        logger.warning(
            "plate of %s/%s is %dx%d but its frames are %dx%d: rendered without it",
            session,
            node,
            *size,
            *frame_size,
        )
        return None
    try:
        data = storage.get(key)
    except StorageError as exc:
        logger.warning("plate of %s/%s not readable: %s", session, node, exc)
        return None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or (image.shape[1], image.shape[0]) != size:
        logger.warning("plate of %s/%s does not decode to %dx%d", session, node, *size)
        return None
    plate = np.asarray(image, np.uint8)
    if check:
        check_plate(storage, factory, session, row.node_id, plate)
    return plate


def check_plate(
    storage: Storage,
    factory: sessionmaker[Db],
    session: str,
    node: str,
    plate: PlateImage,
    samples: int = CHECK_SAMPLES,
) -> str | None:
    """Compare ``plate`` with ``samples`` of the node's frames; record and return the
    warning if it is not their background (an earlier warning is kept)."""
    with factory() as db:
        keys = stored_frames(db, session).get(node, {})
    if not keys:
        return None
    chosen = sorted(keys)
    chosen = [
        chosen[i] for i in np.linspace(0, len(chosen) - 1, min(samples, len(chosen))).astype(int)
    ]
    by_shard: dict[str, set[int]] = {}
    for seq in chosen:
        by_shard.setdefault(keys[seq], set()).add(seq)
    frames: list[SampledFrame] = []
    for key, seqs in by_shard.items():
        for meta, jpeg, mask in read_shard(storage.get(key)):
            if meta.seq in seqs and meta.node == node:
                image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
                if image is not None:
                    pixels = np.asarray(image, np.uint8)
                    frames.append(SampledFrame(pixels, mask, meta.keypoints_array()))
                seqs.discard(meta.seq)
    warning = plate_changes(plate, frames)
    if warning is None:
        return None
    logger.warning("plate of %s/%s: %s", session, node, warning)
    with transaction(factory) as db:
        row = db.get(Plate, (session, node))
        if row is not None and row.warning is None:
            row.warning = warning
    return warning
