"""The checks, made from outside the booth: what a visitor, an auditor and the booth's own
records would each see once the rehearsal is over.

* the relay's mailbox: exactly one rendition email per visitor, none for the deleted one;
* the link in it, fetched over HTTP as a browser would, following the S3 redirect (whose
  presigned signature is verified with the deployment's S3 key, as S3 itself would): a
  playable H.264 MP4 with one frame per frame of the reference dance;
* every frame each node captured (its spool, the node's own record) stored exactly once:
  one database row and one entry in one shard in the object store;
* database states consistent with what happened;
* after a deletion, nothing of that visitor left: objects, rows, dead letters, mail
  spools, relay mail, their address in any log.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as Db

from dancebooth.rehearsal.configs import BUCKET, NODES
from dancebooth.rehearsal.driver import Visitor
from dancebooth.rehearsal.relay import Relay
from dancebooth.rehearsal.topology import Topology

logger = logging.getLogger(__name__)


@dataclass
class FrameCount:
    captured: int = 0  # in the node's spool
    stored: int = 0  # distinct frames in the object store's shards
    rows: int = 0  # frame rows in the database
    lost: int = 0  # captured, not stored
    duplicates: int = 0  # stored more than once (shards or rows)
    unreferenced: int = 0  # shard objects no row names (a crash's; the retention sweep's)


@dataclass
class Outcome:
    """What became of one visitor."""

    visitor: Visitor
    state: str = "?"
    mails: int = 0
    delivered: bool = False
    plays: bool = False
    video: str = ""  # e.g. "10.0 s / 300 frames"
    frames: dict[str, FrameCount] = field(default_factory=dict)
    left: list[str] = field(default_factory=list)  # after deletion: what remains
    problems: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return sum(f.lost for f in self.frames.values())

    @property
    def duplicate_mails(self) -> int:
        return max(self.mails - 1, 0)


class Checker:
    def __init__(self, topology: Topology, engine: Engine, expected_frames: int) -> None:
        self.topology, self.engine, self.expected_frames = topology, engine, expected_frames
        assert topology.relay is not None
        self.relay: Relay = topology.relay
        self.s3 = topology.s3_client()

    def visitor(self, v: Visitor) -> Outcome:
        out = Outcome(v)
        out.state = self._state(v)
        mails = [m for m in self.relay.mail_to(v.email) if m.links]
        out.mails = len(mails)
        if v.deletes:
            out.left = self.leftovers(v)
            if out.mails:
                out.problems.append(f"{out.mails} rendition email(s) sent after deletion")
            return out
        out.frames = {node: self.frames(v.session_id, node) for node in NODES}
        out.delivered = out.state == "delivered" and out.mails >= 1
        if not mails:
            out.problems.append(f"no email at the relay (state {out.state})")
        elif out.mails > 1:
            out.problems.append(f"{out.mails} rendition emails")
        if mails:
            out.plays, out.video = self.play(mails[0].links[0], out.problems)
        out.problems += self.consistency(v.session_id, out.state)
        return out

    # -- the link ------------------------------------------------------------------------
    def play(self, link: str, problems: list[str]) -> tuple[bool, str]:
        """Open the page, fetch the video as a browser does; True if it plays whole."""
        with httpx.Client(timeout=30) as http:
            page = http.get(link)
            if page.status_code != 200:
                problems.append(f"link page: HTTP {page.status_code}")
                return False, ""
            video = http.get(link + "/video.mp4")
            if video.is_redirect:
                where = video.headers["location"]
                if not self.signed_by_deployment(where):
                    problems.append("video redirect not signed with the deployment's S3 key")
                    return False, ""
                video = http.get(where)
            if video.status_code != 200:
                problems.append(f"video: HTTP {video.status_code} {video.text[:120]}")
                return False, ""
        plays = self._decodes(video.content, problems)
        self._signed(video.content, problems)
        return plays

    def _signed(self, data: bytes, problems: list[str]) -> None:
        """Every rendition carries valid content credentials saying it is AI-generated."""
        from cloud.render.credentials import read_stream

        creds = read_stream(io.BytesIO(data))
        if creds.state != "valid" or not creds.ai_generated:
            problems.append(f"content credentials {creds.state} {' '.join(creds.failures)}")

    def _decodes(self, data: bytes, problems: list[str]) -> tuple[bool, str]:
        import av

        try:
            with av.open(io.BytesIO(data), mode="r") as container:
                stream = container.streams.video[0]
                codec = stream.codec_context.name
                frames = sum(1 for _ in container.decode(stream))
                rate = float(stream.average_rate or 0) or 1.0
        except (av.error.FFmpegError, IndexError) as exc:
            problems.append(f"video does not decode: {exc}")
            return False, ""
        shown = f"{frames / rate:.1f} s / {frames} frames"
        if codec != "h264" or abs(frames - self.expected_frames) > 1:
            problems.append(
                f"video is {codec}, {frames} frames (the dance has {self.expected_frames})"
            )
            return False, shown
        return True, shown

    def signed_by_deployment(self, url: str) -> bool:
        """Check a presigned S3 GET URL's SigV4 signature with the deployment's key, as S3
        would (moto serves presigned URLs without checking them)."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        given = dict(query)
        try:
            key_id, date, region, service, _ = given["X-Amz-Credential"].split("/")
            amz_date, signature = given["X-Amz-Date"], given["X-Amz-Signature"]
        except (KeyError, ValueError):
            return False
        if key_id != self.topology.s3_key_id:
            return False
        enc = lambda s: quote(s, safe="-_.~")  # noqa: E731
        canonical_query = "&".join(
            f"{enc(k)}={enc(v)}" for k, v in sorted(query) if k != "X-Amz-Signature"
        )
        signed = given.get("X-Amz-SignedHeaders", "host").split(";")
        headers = {"host": parts.netloc}
        canonical = "\n".join(
            [
                "GET",
                parts.path,
                canonical_query,
                "".join(f"{h}:{headers.get(h, '')}\n" for h in signed),
                ";".join(signed),
                "UNSIGNED-PAYLOAD",
            ]
        )
        scope = f"{date}/{region}/{service}/aws4_request"
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{digest}"
        key = ("AWS4" + self.topology.secrets["s3"]).encode()
        for part in (date, region, service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)

    # -- frames --------------------------------------------------------------------------
    def frames(self, session: str, node: str) -> FrameCount:
        """The node's spool against the shards the database lists as written (what every
        reader reads) and the frame rows."""
        from cloud.db.models import Frame, Shard
        from protocol.shards import read_shard, session_prefix

        captured = self.spooled(node, session)
        with Db(self.engine) as db:
            where = (Frame.session_id == session, Frame.node_id == node)
            rows = Counter(db.scalars(select(Frame.seq).where(*where)))
            written = set(
                db.scalars(
                    select(Shard.key).where(
                        Shard.session_id == session,
                        Shard.node_id == node,
                        Shard.written_at.is_not(None),
                    )
                )
            )
        in_shards: Counter[int] = Counter()
        objects = set(self._keys(f"{session_prefix(session)}{node}/"))
        for key in sorted(written & objects):
            body = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            in_shards.update(meta.seq for meta, *_ in read_shard(body))
        dups = sum(n - 1 for n in in_shards.values() if n > 1)
        dups += sum(n - 1 for n in rows.values() if n > 1)
        lost = len(captured - (set(in_shards) & set(rows)))  # stored = in a shard AND a row
        unreferenced = len(objects - written)
        return FrameCount(len(captured), len(in_shards), len(rows), lost, dups, unreferenced)

    def spooled(self, node: str, session: str) -> set[int]:
        """The frames the node's spool recorded for ``session`` (read-only)."""
        path = self.topology.dir / "spool" / node / "spool.sqlite3"
        if not path.exists():
            return set()
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
            rows = con.execute("SELECT seq FROM frames WHERE session = ?", (session,))
            return {int(seq) for (seq,) in rows}

    def _keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    # -- the database --------------------------------------------------------------------
    def _state(self, v: Visitor) -> str:
        from cloud.db.models import Session

        with Db(self.engine) as db:
            state = db.scalar(select(Session.state).where(Session.id == v.session_id))
        return str(state) if state is not None else "missing"

    def consistency(self, session: str, state: str) -> list[str]:
        from cloud.db.models import Job, Rendition, Session

        problems = []
        with Db(self.engine) as db:
            row = db.get(Session, session)
            jobs = db.scalars(select(Job).where(Job.session_id == session)).all()
            rendition = db.get(Rendition, session)
        if row is None:
            return ["no session row"]
        if state == "delivered":
            if row.delivered_at is None:
                problems.append("delivered without delivered_at")
            if rendition is None or rendition.token_digest is None:
                problems.append("delivered without a link token")
        unfinished = [f"{j.kind} {j.state}" for j in jobs if str(j.state) in {"queued", "running"}]
        if unfinished:
            problems.append(f"jobs left: {', '.join(unfinished)}")
        return problems

    def resumed(self, session: str) -> tuple[int, int]:
        """How a killed worker's fine-tune went on: its attempts and the step it resumed at."""
        import json

        from cloud.db.models import Job

        with Db(self.engine) as db:
            job = db.scalars(
                select(Job).where(Job.session_id == session, Job.kind == "finetune")
            ).first()
        key = f"sessions/{session}/model/metrics.json"
        try:
            metrics = json.loads(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        except Exception:
            metrics = {}
        return (job.attempts if job is not None else 0), int(metrics.get("start_step") or 0)

    # -- after a deletion ----------------------------------------------------------------
    def leftovers(self, v: Visitor) -> list[str]:
        """Everything of ``v`` that outlived their deletion, one line per kind."""
        from cloud.db.models import DeadLetter, Frame, Job, Manifest, Rendition, Session, Shard

        sid, left = v.session_id, []
        keys = self._keys(f"sessions/{sid}/")
        if keys:
            left.append(f"{len(keys)} objects under sessions/{sid}/")
        with Db(self.engine) as db:
            for model in (Frame, Shard, Manifest, Job, Rendition):
                n = db.scalar(
                    select(func.count()).select_from(model).where(model.session_id == sid)
                )
                if n:
                    left.append(f"{n} {model.__tablename__} rows")
            row = db.get(Session, sid)
            if row is not None and row.email:
                left.append("the session row keeps the address")
            letters = db.scalars(select(DeadLetter)).all()
            kept = [d for d in letters if sid in d.topic or _mentions(d.payload, sid, v.email)]
            if kept:
                left.append(f"{len(kept)} dead letters")
        left += [f"address in {p}" for p in self._files_naming(v.email)]
        left += self._spool_leftovers(sid)
        return left

    def _spool_leftovers(self, sid: str, wait_s: float = 15.0) -> list[str]:
        """Frames of ``sid`` still in a node's spool (acknowledged ones are kept there for
        resends unless the erase request reached the node), waiting ``wait_s`` for the
        nodes' answers to land."""
        deadline = time.monotonic() + wait_s
        while True:
            left = [
                f"{len(seqs)} frames in {node}'s spool"
                for node in NODES
                if (seqs := self.spooled(node, sid))
            ]
            left += [
                f"quarantined frames on {node}"
                for node in NODES
                if (self.topology.dir / "spool" / node / "quarantine" / sid).is_dir()
            ]
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.5)

    def _files_naming(self, email: str) -> list[str]:
        """Mail spools and logs that still hold ``email`` (relative paths)."""
        root, needle = self.topology.dir, email.lower().encode()
        found = []
        for sub in ("mail-queue", "logs"):
            for path in sorted((root / sub).rglob("*")):
                if path.is_file() and needle in path.read_bytes().lower():
                    found.append(str(path.relative_to(root)))
        return found


def _mentions(payload: bytes | None, *needles: str) -> bool:
    return payload is not None and any(n.encode() in payload for n in needles)
