"""The uploader's logic without MQTT, on SQLite and PostgreSQL: exactly-once storage,
dead letters, crash consistency, node status."""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pytest
from sqlalchemy import Engine, func, select

from cloud.db.lifecycle import state_of
from cloud.db.models import DeadLetter, Frame, Node, Shard
from cloud.db.states import SessionState
from cloud.ingest.ingestor import Incoming
from cloud.ingest.reader import iter_session_frames
from cloud.storage import StorageError
from cloud.storage.local import LocalStorage
from protocol.masks import encode_mask, mask_shape
from protocol.messages import NodeState, NodeStatus
from protocol.shards import read_shard
from tests.cloud.ingest.conftest import BOOTH, TOPICS, Rig, frame_message, make_rig, packet


def count(rig: Rig, model: type) -> int:
    with rig.factory() as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


def test_duplicates_and_shuffled_order_store_exactly_one_copy(rig: Rig) -> None:
    messages = [frame_message(packet(s, node=n)) for s in range(60) for n in ("node1", "node2")]
    traffic = messages * 3
    random.Random(7).shuffle(traffic)
    for i in range(0, len(traffic), 50):  # batches as the uploader would cut them
        rig.ingestor.handle(traffic[i : i + 50])
    assert count(rig, Frame) == 120
    frames = list(iter_session_frames(rig.storage, rig.factory, "s1"))
    assert [(m.node, m.seq) for m, _ in frames] == [
        (n, s) for n in ("node1", "node2") for s in range(60)
    ]
    originals = {
        (m.node, m.seq): m
        for m in (packet(s, node=n) for s in range(60) for n in ("node1", "node2"))
    }
    for meta, jpeg in frames:
        assert jpeg == originals[(meta.node, meta.seq)].jpeg
    with rig.factory() as db:
        assert state_of(db, "s1") is SessionState.CAPTURING


def test_bad_payloads_are_dead_lettered_and_good_ones_kept(rig: Rig) -> None:
    good = frame_message(packet(1))
    corrupt = bytearray(good.payload)
    corrupt[100] ^= 0xFF
    wrong_node = Incoming(TOPICS.frames(BOOTH, "node2", "s1"), good.payload)
    batch = [
        good,
        Incoming(good.topic, bytes(corrupt)),
        Incoming(good.topic, b""),
        Incoming(good.topic, b"\x00" * 200_000),
        wrong_node,
        Incoming("dancebooth/booth1/node/node1/frames/s1/extra", good.payload),
        Incoming("dancebooth/other/node/node1/frames/s1", good.payload),
        Incoming(TOPICS.manifest(BOOTH, "node1", "s1"), b"{not json"),
        Incoming(TOPICS.status(BOOTH, "node1"), b'{"v": 2}'),
        Incoming(TOPICS.preview(BOOTH, "node1"), b"\xff\xd8jpeg"),
    ]
    result = rig.ingestor.handle(batch)
    assert result.frames.stored == 1
    assert result.dead_letters == len(batch) - 1
    with rig.factory() as db:
        letters = db.scalars(select(DeadLetter).order_by(DeadLetter.id)).all()
    reasons = [d.reason for d in letters]
    assert "checksum" in reasons[0]
    assert "shorter than a header" in reasons[1]
    assert "exceeds" in reasons[2] and letters[2].payload is None  # too big to keep
    assert "published on node node2" in reasons[3]
    assert letters[0].payload == bytes(corrupt) and len(letters[0].sha256) == 64


class FailingStorage(LocalStorage):
    """A real local store that fails its next ``fail_puts`` writes *after* writing."""

    fail_puts = 0

    def put_stream(
        self, key: str, write: Callable[[BinaryIO], object], content_type: str = "x"
    ) -> int:
        size = super().put_stream(key, write, content_type)
        if self.fail_puts:
            self.fail_puts -= 1
            raise StorageError("simulated crash after the shard was written")
        return size


def test_crash_between_shard_and_rows_loses_and_duplicates_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    storage = FailingStorage(tmp_path / "store")
    rig = make_rig(engine, storage)
    first = [frame_message(packet(s)) for s in range(10)]
    rig.ingestor.handle(first)
    batch = [frame_message(packet(s)) for s in range(5, 20)]  # overlaps the stored ones
    storage.fail_puts = 1
    with pytest.raises(StorageError):
        rig.ingestor.handle(batch)  # not acknowledged: the broker redelivers it
    assert count(rig, Frame) == 10
    rig.ingestor.handle(batch)
    assert count(rig, Frame) == 20
    assert count(rig, Shard) == 3  # the orphan's reservation stays, unreferenced
    orphan = sorted(storage.list_keys("sessions/s1/"))[1]
    assert [m.seq for m, *_ in read_shard(storage.get(orphan))] == list(range(10, 20))
    seqs = [m.seq for m, _ in iter_session_frames(storage, rig.factory, "s1")]
    assert seqs == list(range(20))


class RacingStorage(LocalStorage):
    """A real local store that runs ``meanwhile`` once, just after its first shard write:
    another uploader storing the same frames while this one has not inserted its rows."""

    meanwhile: Callable[[], object] | None = None

    def put_stream(
        self, key: str, write: Callable[[BinaryIO], object], content_type: str = "x"
    ) -> int:
        size = super().put_stream(key, write, content_type)
        if self.meanwhile is not None:
            other, self.meanwhile = self.meanwhile, None
            other()
        return size


def test_two_uploaders_storing_the_same_frames_keep_one_copy(
    engine: Engine, tmp_path: Path
) -> None:
    """Found by ``dancebooth rehearse``: a killed uploader's messages were redelivered to
    the other uploader and to its restart at once; both wrote a shard of the same frames,
    and the shard whose rows lost the race stayed, so the fine-tune read them twice."""
    storage = RacingStorage(tmp_path / "store")
    first, other = make_rig(engine, storage), make_rig(engine, LocalStorage(tmp_path / "store"))
    both = [frame_message(packet(s)) for s in range(10)]
    overlapping = [frame_message(packet(s)) for s in range(5, 15)]
    storage.meanwhile = lambda: other.ingestor.handle(both)
    first.ingestor.handle(overlapping)  # 5-9 were stored by the other one meanwhile
    with first.factory() as db:
        shards = db.scalars(select(Shard.key).where(Shard.written_at.is_not(None))).all()
    in_shards = sorted(m.seq for key in shards for m, *_ in read_shard(storage.get(key)))
    assert in_shards == list(range(15))
    assert count(first, Frame) == 15
    storage.meanwhile = lambda: other.ingestor.handle(overlapping)
    first.ingestor.handle(overlapping)  # all of them stored already: nothing new
    storage.meanwhile = lambda: other.ingestor.handle([frame_message(packet(15))])
    first.ingestor.handle([frame_message(packet(15))])  # lost the race for its only frame
    keys = sorted(storage.list_keys("sessions/s1/"))
    assert sorted(m.seq for k in keys for m, *_ in read_shard(storage.get(k))) == list(range(16))


def test_node_status_is_tracked_and_stale_ones_ignored(rig: Rig) -> None:
    def status(state: NodeState, at: float) -> Incoming:
        body = NodeStatus(node="node1", state=state, at=at, backend="replay")
        return Incoming(TOPICS.status(BOOTH, "node1"), body.to_bytes())

    rig.ingestor.handle([status(NodeState.ONLINE, 100.0), status(NodeState.OFFLINE, 200.0)])
    rig.ingestor.handle(
        [status(NodeState.ONLINE, 150.0), Incoming(TOPICS.status(BOOTH, "node1"), b"")]
    )
    with rig.factory() as db:
        node = db.get(Node, (BOOTH, "node1"))
        assert node is not None and node.state == "offline" and node.backend == "replay"
    assert count(rig, DeadLetter) == 0


def test_frames_for_a_deleted_session_are_dropped_without_a_trace(rig: Rig) -> None:
    from cloud.db.engine import transaction
    from cloud.db.lifecycle import transition

    rig.ingestor.handle([frame_message(packet(0))])
    with transaction(rig.factory) as db:
        transition(db, "s1", SessionState.DELETED)
    late = frame_message(packet(1))
    result = rig.ingestor.handle([late, frame_message(packet(0, session="s2"))])
    # The visitor asked to be deleted: their late frame is counted, never kept, not even
    # as a dead letter naming their session; the other session's frame is stored.
    assert result.frames.stored == 1 and result.dropped == 1 and result.dead_letters == 0
    with rig.factory() as db:
        assert db.scalars(select(DeadLetter)).all() == []


def test_unregistered_sessions_are_refused_when_registration_is_required(
    engine: Engine, tmp_path: Path
) -> None:
    from cloud.db.engine import session_factory, transaction
    from cloud.db.lifecycle import ensure_session
    from cloud.ingest.frames import FrameStore
    from cloud.ingest.ingestor import Ingestor

    factory = session_factory(engine)
    store = FrameStore(LocalStorage(tmp_path / "store"), factory, require_registered=True)
    ingestor = Ingestor(BOOTH, TOPICS, store, factory, keep_bytes=140_000)
    with transaction(factory) as db:
        ensure_session(db, BOOTH, "known", SessionState.REGISTERED)
    result = ingestor.handle(
        [frame_message(packet(0, session="known")), frame_message(packet(0, session="stranger"))]
    )
    assert result.frames.stored == 1 and result.dead_letters == 1
    with factory() as db:
        assert "never registered" in db.scalars(select(DeadLetter.reason)).one()
        assert state_of(db, "known") is SessionState.CAPTURING


def test_frames_land_in_s3_exactly_once(engine: Engine) -> None:
    from cloud.storage.s3 import S3Storage
    from tests.services import run_moto_server

    with run_moto_server() as endpoint:
        storage = S3Storage(
            "shards",
            endpoint_url=endpoint.url,
            access_key_id="testing",
            secret_access_key="testing",
            create_bucket=True,
        )
        rig = make_rig(engine, storage)
        traffic = [frame_message(packet(s)) for s in range(40)] * 2
        random.Random(3).shuffle(traffic)
        rig.ingestor.handle(traffic[:50])
        rig.ingestor.handle(traffic[50:])
        seqs = [m.seq for m, _ in iter_session_frames(storage, rig.factory, "s1")]
        assert seqs == list(range(40))
        assert all(k.startswith("sessions/s1/node1/shard-") for k in storage.list_keys())


def test_two_uploaders_recording_a_new_nodes_first_status_both_succeed(rig: Rig) -> None:
    """Found by ``dancebooth rehearse``: two uploaders on a shared subscription each see
    a new node's first status; the second INSERT of its row must not fail the batch."""
    import threading
    import time

    if rig.factory.kw["bind"].dialect.name == "sqlite":
        pytest.skip("SQLite serialises writers: the race needs two open transactions")
    body = NodeStatus(node="node1", state=NodeState.ONLINE, at=100.0, backend="replay")
    with rig.factory() as db:  # the booth row exists already, as it does after the first node
        rig.ingestor._record_status(db, "node0", body.model_copy(update={"node": "node0"}))
        db.commit()
    first, second = rig.factory(), rig.factory()
    rig.ingestor._record_status(first, "node1", body)  # not committed yet
    errors: list[Exception] = []

    def other_uploader() -> None:
        try:
            rig.ingestor._record_status(second, "node1", body.model_copy(update={"at": 101.0}))
            second.commit()
        except Exception as exc:
            errors.append(exc)
        finally:
            second.close()

    thread = threading.Thread(target=other_uploader)
    thread.start()
    time.sleep(0.5)  # the other uploader now waits on the first one's uncommitted row
    first.commit()
    first.close()
    thread.join(10)
    assert not errors
    with rig.factory() as db:
        node = db.get(Node, (BOOTH, "node1"))
        assert node is not None and node.status_at is not None


def test_masks_reach_the_shards_and_frames_without_one_are_counted(rig: Rig) -> None:
    person = np.zeros(mask_shape(640, 480), np.uint8)
    person[20:90, 50:80] = 255
    sent = {0: encode_mask(person), 1: None, 2: encode_mask(np.zeros_like(person))}
    messages = []
    for seq, mask in sent.items():
        p = packet(seq)
        p.mask = mask
        messages.append(frame_message(p))
    v1 = bytearray(frame_message(packet(3)).payload)  # an old node's packet
    v1[4] = 1
    v1[-4:] = zlib.crc32(bytes(v1[:-4])).to_bytes(4, "little")
    messages.append(Incoming(messages[0].topic, bytes(v1)))
    result = rig.ingestor.handle(messages)
    assert (result.frames.stored, result.frames.unmasked, result.dead_letters) == (4, 3, 0)
    with rig.factory() as db:
        (key,) = db.scalars(select(Shard.key)).all()
    stored = {f.meta.seq: f.mask for f in read_shard(rig.storage.get(key))}
    assert stored[0] is not None and np.array_equal(stored[0], person)
    assert stored[1] is None and stored[2] is None and stored[3] is None  # empty: not stored
    again = rig.ingestor.handle(messages)  # duplicates are not counted twice
    assert (again.frames.stored, again.frames.unmasked) == (0, 0)
