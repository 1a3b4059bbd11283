"""Clean plates through the uploader's logic, on SQLite and PostgreSQL: chunks spread
over two uploaders, assembled once; the render pipeline's load_plate; a plate with
somebody in it; a node whose camera resolution changes mid-session; erasure."""

from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import Engine, func, select

from cloud.db.engine import transaction
from cloud.db.models import DeadLetter, Frame, Plate, PlatePart
from cloud.ingest.ingestor import Incoming
from cloud.ingest.plates import PERSON_WARNING, load_plate, plate_key
from cloud.retention import Removal, erase
from cloud.storage.local import LocalStorage
from edge.synthetic.background import background_plate
from protocol.plates import FLAG_PERSON, encode_plate_chunk, split_plate
from tests.cloud.ingest.conftest import BOOTH, TOPICS, Rig, frame_message, make_rig, packet

W, H = 1280, 720


def plate_messages(session: str = "s1", node: str = "node1", flags: int = 0) -> list[Incoming]:
    ok, jpeg = cv2.imencode(
        ".jpg", np.asarray(background_plate(W, H)), [cv2.IMWRITE_JPEG_QUALITY, 92]
    )
    assert ok
    chunks = split_plate(session, node, jpeg.tobytes(), W, H, 1_800_000_000_000_000_000, flags)
    assert len(chunks) >= 2
    topic = TOPICS.plate(BOOTH, node, session)
    return [Incoming(topic, encode_plate_chunk(c)) for c in chunks]


def count(rig: Rig, model: type) -> int:
    with rig.factory() as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


def sized(seq: int, width: int = W, height: int = H, session: str = "s1") -> Incoming:
    p = packet(seq, session=session)
    p.width, p.height = width, height
    return frame_message(p)


def test_chunks_over_two_uploaders_make_one_plate_the_renderer_loads(
    engine: Engine, tmp_path: Path
) -> None:
    storage = LocalStorage(tmp_path / "store")
    one, two = make_rig(engine, storage), make_rig(engine, storage)
    assert load_plate(storage, one.factory, "s1") is None  # none yet: render full-frame
    one.ingestor.handle([sized(0), sized(1)])
    chunks = plate_messages() * 2  # redelivered copies too
    random.Random(3).shuffle(chunks)
    for i, message in enumerate(chunks):
        (one if i % 2 else two).ingestor.handle([message])
    assert count(one, Plate) == 1 and count(one, PlatePart) == 0
    plate = load_plate(storage, one.factory, "s1")
    assert plate is not None and plate.shape == (H, W, 3) and plate.dtype == np.uint8
    assert np.abs(plate.astype(int) - background_plate(W, H)).mean() < 4.0
    assert storage.exists(plate_key("s1", "node1"))
    with one.factory() as db:
        row = db.get(Plate, ("s1", "node1"))
        assert row is not None and row.warning is None and (row.width, row.height) == (W, H)


def test_a_plate_with_somebody_in_it_warns_and_still_renders(rig: Rig) -> None:
    rig.ingestor.handle(plate_messages(flags=FLAG_PERSON))
    with rig.factory() as db:
        row = db.get(Plate, ("s1", "node1"))
        assert row is not None and row.warning == PERSON_WARNING
    assert load_plate(rig.storage, rig.factory, "s1", "node1") is not None


def test_a_resolution_change_mid_session_is_refused_and_nothing_accepted_is_lost(
    rig: Rig,
) -> None:
    first = rig.ingestor.handle([sized(s) for s in range(5)])
    assert first.frames.stored == 5
    mixed = [sized(5), sized(6, 640, 480), sized(7), sized(8, 640, 480)]
    result = rig.ingestor.handle(mixed)
    assert result.frames.stored == 2 and result.dead_letters == 2
    with rig.factory() as db:
        letters = db.scalars(select(DeadLetter).order_by(DeadLetter.id)).all()
        stored = set(db.scalars(select(Frame.seq)))
    assert stored == {0, 1, 2, 3, 4, 5, 7}
    reason = letters[0].reason
    assert "node node1" in reason and "session s1" in reason
    assert "640x480" in reason and f"{W}x{H}" in reason
    # Within one batch too: the first frame of a (session, node) sets its size.
    fresh = rig.ingestor.handle([sized(0, session="s2"), sized(1, 320, 240, session="s2")])
    assert fresh.frames.stored == 1 and fresh.dead_letters == 1


def test_the_plate_of_a_mismatched_size_is_not_loaded_and_erasure_removes_it(rig: Rig) -> None:
    rig.ingestor.handle([sized(0, 640, 480), *plate_messages()])
    assert load_plate(rig.storage, rig.factory, "s1") is None  # 1280x720 plate, 640x480 frames
    with transaction(rig.factory) as db:
        erased = erase(db, rig.storage, Removal("s1", frozenset(), visitor=True))
    assert plate_key("s1", "node1") in erased.objects
    assert not rig.storage.exists(plate_key("s1", "node1"))
    assert count(rig, Plate) == 0 and count(rig, PlatePart) == 0


def test_a_plate_that_is_not_the_sessions_background_gets_a_warning_and_still_renders(
    rig: Rig,
) -> None:
    from edge.synthetic.renderer import Renderer
    from edge.synthetic.visitor import make_visitor
    from protocol.codec import FramePacket
    from protocol.masks import encode_mask

    w, h = 640, 480
    messages = []
    for f in make_visitor(1).frames(w, h, 30, 4.0, masks=True):
        if f.seq % 10:
            continue
        assert f.truth is not None and f.truth_mask is not None
        _, jpeg = cv2.imencode(".jpg", f.image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        p = FramePacket(
            session="s1",
            node="node1",
            seq=f.seq,
            capture_ns=f.capture_ns,
            width=w,
            height=h,
            keypoints=f.truth[:17].copy(),
            jpeg=jpeg.tobytes(),
            mask=encode_mask(f.truth_mask),
        )
        messages.append(frame_message(p))
    rig.ingestor.handle(messages)
    # The node missed a second person standing in the booth when it took its plate.
    other = make_visitor(5)
    posed = other.posed(30, 1.0)
    posed.joints[..., 0] += 1.3
    with_somebody = Renderer(w, h, other.appearance, other.shape).render(posed, 0)
    _, jpeg = cv2.imencode(".jpg", with_somebody, [cv2.IMWRITE_JPEG_QUALITY, 92])
    chunks = split_plate("s1", "node1", jpeg.tobytes(), w, h, 1_800_000_000_000_000_000)
    rig.ingestor.handle(
        [Incoming(TOPICS.plate(BOOTH, "node1", "s1"), encode_plate_chunk(c)) for c in chunks]
    )
    with rig.factory() as db:
        assert db.get(Plate, ("s1", "node1")).warning is None  # type: ignore[union-attr]
    plate = load_plate(rig.storage, rig.factory, "s1")
    assert plate is not None  # the session still renders over it
    with rig.factory() as db:
        warning = db.get(Plate, ("s1", "node1")).warning  # type: ignore[union-attr]
    assert warning is not None and "retake the plate" in warning
