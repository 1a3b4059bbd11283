"""The spool: the node's on-disk store-and-forward queue (SQLite, WAL).

Every captured frame is written here before anything else happens to it, so a
crash, a broker outage or a slow pose backend loses nothing already captured.
A frame moves through these states::

    CAPTURED  JPEG (+ ground truth) stored, keypoints not yet estimated
    (lost)    the JPEG did not decode: moved to the quarantine, listed as lost in the
              capture's manifest (see :mod:`edge.quarantine`)
    HELD      packet built, held until the capture's offline smoothing pass rewrites it
              (only when uploads carry offline-smoothed keypoints)
    READY     the encoded frame packet is stored, waiting for the broker's PUBACK
    ACKED     the broker acknowledged it (QoS 1); kept ``keep_acked_s`` to serve
              resend requests, and the first thing evicted when space runs out

Unacknowledged frames are never evicted: when the size cap is reached with only
unacknowledged data, :meth:`Spool.add_frame` raises :class:`SpoolFullError` and the
capture counts the frame as dropped. One connection serves every thread behind a
lock; SQLite releases the GIL while it works, so capture threads keep running.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path

from edge.quarantine import Quarantine
from edge.spool_rows import (
    CAPTURE_COLUMNS,
    SCHEMA,
    CapturedFrame,
    CaptureRecord,
    FrameState,
    Key,
    add_later_columns,
    capture_record,
)

logger = logging.getLogger(__name__)

SPOOL_FILE = "spool.sqlite3"


class SpoolError(RuntimeError):
    """The spool cannot do what was asked."""


class SpoolFullError(SpoolError):
    """The size cap is reached and everything left is unacknowledged."""


class Spool:
    """A SQLite store of frames and captures; safe to share between threads."""

    def __init__(self, directory: Path, max_mb: int = 2048, keep_acked_s: float = 3600.0) -> None:
        self.path = directory / SPOOL_FILE
        self.max_bytes = max_mb * 1024 * 1024
        self.keep_acked_s = keep_acked_s
        self._lock = threading.Lock()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            # WAL + NORMAL: a killed process loses no committed frame; only a power cut
            # can lose the last few, and commits stay cheap enough for 120+ fps.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            add_later_columns(self._db)
            row = self._db.execute("SELECT COALESCE(SUM(bytes), 0) FROM frames").fetchone()
        except (OSError, sqlite3.Error) as exc:
            raise SpoolError(
                f"cannot open the spool {self.path}: {exc}; set spool.path to a writable"
                " directory (DANCEBOOTH_EDGE_SPOOL__PATH)"
            ) from exc
        self._bytes = int(row[0])
        self.quarantine = Quarantine(directory / "quarantine")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- captures -------------------------------------------------------------------
    def begin_capture(
        self, session: str, width: int, height: int, fps: float, started_at: float
    ) -> None:
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO captures (session, width, height, fps, started_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (session, width, height, fps, started_at),
                )
            except sqlite3.IntegrityError:
                raise SpoolError(f"session {session} was already captured on this node") from None

    def end_capture(
        self, session: str, ended_at: float, seq_count: int, dropped: list[int], fps: float
    ) -> None:
        """Close a capture: ``seq_count`` sequence numbers were used, ``dropped`` never spooled."""
        with self._lock:
            self._db.execute(
                "UPDATE captures SET ended_at = ?, seq_count = ?, dropped = ?, fps = ?"
                " WHERE session = ?",
                (ended_at, seq_count, json.dumps(sorted(dropped)), fps, session),
            )

    def capture(self, session: str) -> CaptureRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {CAPTURE_COLUMNS} FROM captures WHERE session = ?", (session,)
            ).fetchone()
        return capture_record(row) if row else None

    def recover(self) -> list[str]:
        """Close captures a crash left open, from what reached the spool; return them.

        Sequence numbers missing between the first and last spooled frame are the
        frames that never reached the spool (dropped).
        """
        with self._lock:
            open_ = [
                r[0]
                for r in self._db.execute("SELECT session FROM captures WHERE ended_at IS NULL")
            ]
            for session in open_:
                self._close_interrupted(session)
        return open_

    def manifests_due(self, first_only: bool = False) -> list[CaptureRecord]:
        """Ended captures whose frames are all acknowledged and whose manifest is to be
        sent: never sent yet, or (unless ``first_only``) due for a repeat."""
        repeat = "" if first_only else " OR manifest_next <= ?"
        args: tuple[float | int, ...] = (
            (int(FrameState.ACKED),) if first_only else (time.time(), int(FrameState.ACKED))
        )
        with self._lock:
            rows = self._db.execute(
                f"SELECT {CAPTURE_COLUMNS} FROM captures c WHERE ended_at IS NOT NULL"
                f" AND (manifest_sends = 0{repeat}) AND NOT EXISTS (SELECT 1 FROM frames f"
                " WHERE f.session = c.session AND f.state != ?)",
                args,
            ).fetchall()
        return [capture_record(r) for r in rows]

    def manifest_sent(self, session: str, next_at: float | None) -> None:
        """The broker acknowledged the manifest; repeat it at ``next_at`` (None: never)."""
        with self._lock:
            self._db.execute(
                "UPDATE captures SET manifest_sends = manifest_sends + 1, manifest_next = ?"
                " WHERE session = ?",
                (next_at, session),
            )

    def holds(self, session: str) -> bool:
        """Whether anything of ``session`` is here: its capture, a frame or a quarantined file."""
        with self._lock:
            row = self._db.execute(
                "SELECT EXISTS (SELECT 1 FROM captures WHERE session = ?)"
                " OR EXISTS (SELECT 1 FROM frames WHERE session = ?)",
                (session, session),
            ).fetchone()
        return bool(row[0]) or bool(self.quarantine.files(session))

    def sessions(self) -> list[str]:
        """Every session something is kept of (captures, frames, quarantined files)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT session FROM captures UNION SELECT DISTINCT session FROM frames"
            ).fetchall()
        return sorted({str(r[0]) for r in rows} | set(self.quarantine.sessions()))

    def erase(self, session: str) -> int:
        """The visitor's deletion: remove every frame of ``session`` in any state (acknowledged
        ones too, which ``keep_acked_s`` would otherwise keep) and its quarantined files;
        return how many frames went."""
        quarantined = len(self.quarantine.files(session))
        return self.delete_capture(session) + quarantined

    def delete_capture(self, session: str) -> int:
        """Forget a capture entirely (cancelled); return the frames removed."""
        with self._lock:
            self._db.execute("BEGIN")
            n = self._db.execute("DELETE FROM frames WHERE session = ?", (session,)).rowcount
            self._db.execute("DELETE FROM captures WHERE session = ?", (session,))
            self._db.execute("COMMIT")
            self._recount()
        self.quarantine.remove(session)
        return int(n)

    # -- frames ---------------------------------------------------------------------
    def add_frame(
        self,
        session: str,
        seq: int,
        capture_ns: int,
        width: int,
        height: int,
        jpeg: bytes,
        truth: bytes | None = None,
    ) -> None:
        """Store a captured frame; raise :class:`SpoolFullError` if there is no room for it."""
        size = len(jpeg) + len(truth or b"")
        with self._lock:
            if self._bytes + size > self.max_bytes:
                self._evict_acked(self._bytes + size - self.max_bytes)
                if self._bytes + size > self.max_bytes:
                    raise SpoolFullError(
                        f"spool {self.path} holds {self._bytes >> 20} MB of unsent frames"
                        f" (cap {self.max_bytes >> 20} MB): raise spool.max_mb or fix the link"
                    )
            self._db.execute(
                "INSERT INTO frames (session, seq, capture_ns, width, height, state, jpeg,"
                " truth, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session,
                    seq,
                    capture_ns,
                    width,
                    height,
                    int(FrameState.CAPTURED),
                    jpeg,
                    truth,
                    size,
                ),
            )
            self._bytes += size

    def captured(self, limit: int = 64) -> list[CapturedFrame]:
        """Frames still waiting for keypoints, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT session, seq, capture_ns, width, height, jpeg, truth FROM frames"
                " WHERE state = ? ORDER BY id LIMIT ?",
                (int(FrameState.CAPTURED), limit),
            ).fetchall()
        return [CapturedFrame(*r) for r in rows]

    def quarantine_frame(self, session: str, seq: int, reason: str) -> str | None:
        """Move a CAPTURED frame that cannot be used aside and list it as lost in its
        capture; say where its bytes went (None: it was not waiting any more)."""
        with self._lock:
            row = self._db.execute(
                "SELECT jpeg, bytes FROM frames WHERE session = ? AND seq = ? AND state = ?",
                (session, seq, int(FrameState.CAPTURED)),
            ).fetchone()
            if row is None:
                return None
            where = self.quarantine.put(session, seq, bytes(row[0] or b""), reason)
            lost = self._db.execute(
                "SELECT lost FROM captures WHERE session = ?", (session,)
            ).fetchone()
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM frames WHERE session = ? AND seq = ?", (session, seq))
            if lost is not None:
                seqs = sorted(set(json.loads(lost[0])) | {seq})
                self._db.execute(
                    "UPDATE captures SET lost = ? WHERE session = ?", (json.dumps(seqs), session)
                )
            self._db.execute("COMMIT")
            self._bytes -= int(row[1])
        return where

    def set_packet(
        self,
        session: str,
        seq: int,
        packet: bytes,
        *,
        raw: bytes | None = None,
        hold: bool = False,
    ) -> None:
        """Store the encoded packet of a captured frame: READY to publish, or HELD (with
        the backend's ``raw`` keypoints) for the offline pass."""
        state = FrameState.HELD if hold else FrameState.READY
        with self._lock:
            old = self._db.execute(
                "SELECT bytes FROM frames WHERE session = ? AND seq = ? AND state = ?",
                (session, seq, int(FrameState.CAPTURED)),
            ).fetchone()
            if old is None:
                raise SpoolError(f"frame {session}/{seq} is not waiting for keypoints")
            size = len(packet) + len(raw or b"")
            self._db.execute(
                "UPDATE frames SET state = ?, packet = ?, raw = ?, jpeg = NULL, truth = NULL,"
                " bytes = ? WHERE session = ? AND seq = ?",
                (int(state), packet, raw, size, session, seq),
            )
            self._bytes += size - int(old[0])

    def held_sessions(self) -> list[str]:
        """Ended captures whose frames are all annotated and some HELD for the offline pass."""
        with self._lock:
            rows = self._db.execute(
                "SELECT session FROM captures c WHERE ended_at IS NOT NULL"
                " AND EXISTS (SELECT 1 FROM frames f WHERE f.session = c.session AND f.state = ?)"
                " AND NOT EXISTS (SELECT 1 FROM frames f WHERE f.session = c.session"
                " AND f.state = ?)",
                (int(FrameState.HELD), int(FrameState.CAPTURED)),
            ).fetchall()
        return [str(r[0]) for r in rows]

    def held(self, session: str) -> list[tuple[int, bytes, bytes]]:
        """(seq, packet, raw keypoints) of every HELD frame of ``session``, in seq order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, packet, raw FROM frames WHERE session = ? AND state = ? ORDER BY seq",
                (session, int(FrameState.HELD)),
            ).fetchall()
        return [(int(q), bytes(p), bytes(r or b"")) for q, p, r in rows]

    def release(self, session: str, packets: list[tuple[int, bytes]]) -> None:
        """Replace HELD packets by their final version and make them READY, atomically."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "UPDATE frames SET state = ?, packet = ?, raw = NULL, bytes = ?"
                " WHERE session = ? AND seq = ? AND state = ?",
                [
                    (int(FrameState.READY), p, len(p), session, q, int(FrameState.HELD))
                    for q, p in packets
                ],
            )
            self._db.execute("COMMIT")
            self._recount()

    def ready(
        self, limit: int, skip: set[Key] | frozenset[Key] = frozenset()
    ) -> list[tuple[Key, bytes]]:
        """Up to ``limit`` unacknowledged packets, oldest first, leaving out ``skip``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT session, seq, packet FROM frames WHERE state = ? ORDER BY id LIMIT ?",
                (int(FrameState.READY), limit + len(skip)),
            ).fetchall()
        out = [((s, q), p) for s, q, p in rows if (s, q) not in skip]
        return out[:limit]

    def mark_acked(self, keys: list[Key]) -> None:
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "UPDATE frames SET state = ?, acked_at = ? WHERE session = ? AND seq = ?"
                " AND state = ?",
                [(int(FrameState.ACKED), now, s, q, int(FrameState.READY)) for s, q in keys],
            )
            self._db.execute("COMMIT")

    def packets(self, session: str, first: int, last: int) -> list[tuple[int, bytes]]:
        """Final (READY or ACKED) packets of ``session`` with ``first <= seq <= last``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, packet FROM frames WHERE session = ? AND seq BETWEEN ? AND ?"
                " AND state IN (?, ?) ORDER BY seq",
                (session, first, last, int(FrameState.READY), int(FrameState.ACKED)),
            ).fetchall()
        return [(int(q), bytes(p)) for q, p in rows]

    def final_seqs(self, session: str, first: int, last: int) -> list[int]:
        """Sequence numbers :meth:`packets` would return, without reading the packets."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq FROM frames WHERE session = ? AND seq BETWEEN ? AND ?"
                " AND state IN (?, ?) ORDER BY seq",
                (session, first, last, int(FrameState.READY), int(FrameState.ACKED)),
            ).fetchall()
        return [int(r[0]) for r in rows]

    def depth(self) -> int:
        """Frames not yet acknowledged by the broker."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM frames WHERE state != ?", (int(FrameState.ACKED),)
            ).fetchone()
        return int(row[0])

    def counts(self) -> dict[FrameState, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM frames GROUP BY state").fetchall()
        out = dict.fromkeys(FrameState, 0)
        out.update({FrameState(s): int(n) for s, n in rows})
        return out

    @property
    def bytes_used(self) -> int:
        return self._bytes

    def expire(self) -> int:
        """Delete acknowledged packets older than ``keep_acked_s``; return how many."""
        cutoff = time.time() - self.keep_acked_s
        with self._lock:
            n = self._db.execute(
                "DELETE FROM frames WHERE state = ? AND acked_at < ?",
                (int(FrameState.ACKED), cutoff),
            ).rowcount
            if n:
                self._recount()
        self.quarantine.expire(self.keep_acked_s)
        return int(n)

    # -- internals (lock held) --------------------------------------------------------
    def _evict_acked(self, need: int) -> None:
        freed = 0
        while freed < need:
            rows = self._db.execute(
                "SELECT id, bytes FROM frames WHERE state = ? ORDER BY id LIMIT 32",
                (int(FrameState.ACKED),),
            ).fetchall()
            if not rows:
                return
            self._db.executemany("DELETE FROM frames WHERE id = ?", [(r[0],) for r in rows])
            freed += sum(int(r[1]) for r in rows)
            self._bytes -= sum(int(r[1]) for r in rows)
        logger.info("spool over its cap: evicted %d bytes of acknowledged packets", freed)

    def _close_interrupted(self, session: str) -> None:
        rows = self._db.execute(
            "SELECT seq FROM frames WHERE session = ? ORDER BY seq", (session,)
        ).fetchall()
        seqs = {int(r[0]) for r in rows}
        lost = set(
            json.loads(
                self._db.execute(
                    "SELECT lost FROM captures WHERE session = ?", (session,)
                ).fetchone()[0]
            )
        )
        last = self._db.execute(
            "SELECT MAX(capture_ns) FROM frames WHERE session = ?", (session,)
        ).fetchone()[0]
        count = max(seqs | lost) + 1 if seqs or lost else 0
        dropped = sorted(set(range(count)) - seqs - lost)
        self._db.execute(
            "UPDATE captures SET ended_at = ?, seq_count = ?, dropped = ? WHERE session = ?",
            (last / 1e9 if last else time.time(), count, json.dumps(dropped), session),
        )
        logger.warning(
            "recovered interrupted capture %s: %d frames spooled, %d missing, %d lost",
            session,
            len(seqs),
            len(dropped),
            len(lost),
        )

    def _recount(self) -> None:
        row = self._db.execute("SELECT COALESCE(SUM(bytes), 0) FROM frames").fetchone()
        self._bytes = int(row[0])
