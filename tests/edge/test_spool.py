from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from edge.spool import FrameState, Spool, SpoolError, SpoolFullError
from edge.spool_rows import SCHEMA

JPEG = b"\xff\xd8" + b"x" * 1000 + b"\xff\xd9"


def _fill(spool: Spool, session: str, n: int) -> None:
    spool.begin_capture(session, 64, 48, 30.0, 1.0)
    for i in range(n):
        spool.add_frame(session, i, 1_000 + i, 64, 48, JPEG, b"t" * 12)


def test_frames_move_captured_ready_acked_and_survive_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    _fill(spool, "s1", 5)
    assert [f.seq for f in spool.captured()] == [0, 1, 2, 3, 4]
    for i in range(3):
        spool.set_packet("s1", i, b"packet%d" % i)
    spool.mark_acked([("s1", 0)])
    spool.close()

    spool = Spool(tmp_path)  # a restarted node
    counts = spool.counts()
    assert counts == {
        FrameState.CAPTURED: 2,
        FrameState.READY: 2,
        FrameState.ACKED: 1,
        FrameState.HELD: 0,
    }
    assert [k for k, _ in spool.ready(10)] == [("s1", 1), ("s1", 2)]
    assert [f.seq for f in spool.captured()] == [3, 4]
    assert spool.captured()[0].truth == b"t" * 12
    assert spool.depth() == 4
    # Acked packets stay available for resends until they expire.
    assert spool.packets("s1", 0, 1) == [(0, b"packet0"), (1, b"packet1")]
    assert spool.final_seqs("s1", 0, 100) == [0, 1, 2]  # not the frames still CAPTURED


def test_ready_skips_packets_in_flight(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    _fill(spool, "s1", 4)
    for i in range(4):
        spool.set_packet("s1", i, b"p")
    assert [k for k, _ in spool.ready(2, skip={("s1", 0), ("s1", 2)})] == [("s1", 1), ("s1", 3)]


def test_only_acked_frames_are_ever_evicted(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_mb=16)
    big = b"\xff\xd8" + b"y" * (4 * 1024 * 1024) + b"\xff\xd9"
    spool.begin_capture("s1", 64, 48, 30.0, 1.0)
    for i in range(3):
        spool.add_frame("s1", i, i, 64, 48, big)
    with pytest.raises(SpoolFullError, match=r"spool\.max_mb"):
        spool.add_frame("s1", 3, 3, 64, 48, big)
    assert spool.depth() == 3  # nothing accepted was lost
    spool.set_packet("s1", 0, big)
    spool.mark_acked([("s1", 0)])
    spool.add_frame("s1", 3, 3, 64, 48, big)  # room made by evicting the acked frame
    assert spool.packets("s1", 0, 0) == []
    assert spool.depth() == 3


def test_set_packet_requires_a_captured_frame(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    _fill(spool, "s1", 1)
    spool.set_packet("s1", 0, b"p")
    with pytest.raises(SpoolError):
        spool.set_packet("s1", 0, b"p")
    with pytest.raises(SpoolError, match="already captured"):
        spool.begin_capture("s1", 64, 48, 30.0, 1.0)


def test_manifest_due_once_all_frames_acked(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    _fill(spool, "s1", 2)
    spool.end_capture("s1", 2.0, 3, [1], 30.0)
    assert spool.manifests_due() == []
    for i in range(2):
        spool.set_packet("s1", i, b"p")
    spool.mark_acked([("s1", 0), ("s1", 1)])
    (due,) = spool.manifests_due()
    assert (due.session, due.seq_count, due.dropped) == ("s1", 3, [1])
    spool.manifest_sent("s1", next_at=time.time() + 3600)
    assert spool.manifests_due() == []
    spool.manifest_sent("s1", next_at=time.time() - 1)  # a repeat is due
    assert [r.manifest_sends for r in spool.manifests_due()] == [2]
    assert spool.manifests_due(first_only=True) == []
    spool.manifest_sent("s1", next_at=None)
    assert spool.manifests_due() == []


def test_recover_closes_an_interrupted_capture_with_its_gaps(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.begin_capture("s1", 64, 48, 30.0, 1.0)
    for i in (0, 1, 3, 4):
        spool.add_frame("s1", i, 1_000_000_000 * (i + 1), 64, 48, JPEG)
    spool.close()
    spool = Spool(tmp_path)
    assert spool.recover() == ["s1"]
    record = spool.capture("s1")
    assert record is not None
    assert (record.seq_count, record.dropped, record.ended_at) == (5, [2], 5.0)
    assert spool.recover() == []


def test_a_quarantined_frame_is_lost_not_dropped_and_survives_recovery(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    _fill(spool, "s1", 5)
    before = spool.bytes_used
    where = spool.quarantine_frame("s1", 4, "s1/4: the JPEG does not decode")
    assert where == str(tmp_path / "quarantine" / "s1" / "000004.jpg")
    assert Path(where).read_bytes() == JPEG
    assert spool.bytes_used == before - len(JPEG) - 12
    assert spool.quarantine_frame("s1", 4, "again") is None  # not waiting any more
    spool.close()
    spool = Spool(tmp_path)  # killed mid-capture: the last frame was the lost one
    assert spool.recover() == ["s1"]
    record = spool.capture("s1")
    assert record is not None
    assert (record.seq_count, record.dropped, record.lost) == (5, [], [4])


def test_a_quarantine_that_cannot_be_written_still_takes_the_frame_out(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    _fill(spool, "s1", 2)
    (tmp_path / "quarantine").write_text("a file where the folder should be")
    where = spool.quarantine_frame("s1", 0, "s1/0: the JPEG does not decode")
    assert where is not None and where.startswith("its bytes could not be kept")
    assert [f.seq for f in spool.captured()] == [1]  # not stuck first in the queue
    record = spool.capture("s1")
    assert record is not None and record.lost == [0]


def test_a_spool_made_before_lost_frames_existed_opens(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "spool.sqlite3")
    old = SCHEMA.replace("    lost TEXT NOT NULL DEFAULT '[]',\n", "")
    assert "lost" not in old
    db.executescript(old)
    db.execute(
        "INSERT INTO captures (session, width, height, fps, started_at)"
        " VALUES ('s0', 64, 48, 30, 1)"
    )
    db.commit()
    db.close()
    record = Spool(tmp_path).capture("s0")
    assert record is not None and record.lost == []


def test_expire_and_delete(tmp_path: Path) -> None:
    spool = Spool(tmp_path, keep_acked_s=0.0)
    _fill(spool, "s1", 3)
    spool.set_packet("s1", 0, b"p")
    spool.mark_acked([("s1", 0)])
    assert spool.expire() == 1
    assert spool.delete_capture("s1") == 2
    assert spool.capture("s1") is None
    assert spool.bytes_used == 0


def test_an_unusable_spool_location_fails_clearly(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(SpoolError, match=r"spool\.path"):
        Spool(blocker / "spool")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "spool.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(SpoolError, match="cannot open the spool"):
        Spool(tmp_path / "bad")
