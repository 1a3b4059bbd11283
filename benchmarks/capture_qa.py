"""``dancebooth bench qa``: capture QA's scores on the synthetic booth's kinds of visitor,
and its time per stored session.

Scores: every kind of :mod:`edge.synthetic.captures` (dancing along, a perfect imitation,
standing still, cut off at the knees, another routine, free-style) for a few visitors per
shipped dance, each captured for the dance's length (guided capture), with the verdict
under the default thresholds. Time: a 15 s, 30 fps, 640x480 capture of one node stored
through the uploader's own :class:`~cloud.ingest.frames.FrameStore` (SQLite + local
object store), then :func:`cloud.qa.session.assess_session` timed from reading the
shards to the verdict, several times.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import click
import numpy as np
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.db.engine import make_engine, session_factory, upgrade_database
from cloud.db.lifecycle import ensure_session
from cloud.db.models import Session as SessionRow
from cloud.db.states import SessionState
from cloud.ingest.frames import FrameStore
from cloud.qa.report import NodeClip, assess
from cloud.qa.session import assess_session
from cloud.settings import CaptureQaSettings
from cloud.storage import Storage
from cloud.storage.local import LocalStorage
from common.reference import load_reference
from edge.synthetic.captures import CAPTURE_KINDS, SyntheticCapture, synthetic_capture
from edge.synthetic.routines import ROUTINES
from edge.synthetic.visitor import BASE_CAPTURE_NS
from protocol.codec import FramePacket

BOOTH = "bench"


def store_capture(
    storage: Storage,
    factory: sessionmaker[Db],
    session: str,
    node: str,
    capture: SyntheticCapture,
    dance: str | None = None,
    *,
    first_seq: int = 0,
    start_s: float = 0.0,
) -> int:
    """Store ``capture`` as node ``node``'s frames of ``session`` (the given JPEGs cycled
    over every frame, so the shards have a real capture's size), numbered from
    ``first_seq`` and captured from ``start_s`` on; returns the frames."""
    with factory.begin() as db:
        ensure_session(db, BOOTH, session, SessionState.CAPTURING)
        if dance is not None:
            row = db.get(SessionRow, session)
            assert row is not None
            row.dance = dance
    store = FrameStore(storage, factory)
    jpegs = capture.jpegs
    by_frame = dict(zip(capture.jpeg_frames, jpegs, strict=True))
    packets = [
        FramePacket(
            session=session,
            node=node,
            seq=first_seq + i,
            capture_ns=BASE_CAPTURE_NS + round((start_s + i / capture.fps) * 1e9),
            width=capture.width,
            height=capture.height,
            keypoints=np.asarray(capture.keypoints[i], dtype=np.float32),
            jpeg=by_frame.get(i, jpegs[i % len(jpegs)]),
        )
        for i in range(len(capture.keypoints))
    ]
    for start in range(0, len(packets), 100):
        store.store(BOOTH, packets[start : start + 100])
    return len(packets)


def _scores(seeds: int, q: CaptureQaSettings) -> None:
    click.echo(
        "kind        dance        seed  coverage  whole  feet  share  motion  sharp  verdict"
    )
    for dance in sorted(ROUTINES):
        ref = load_reference(dance)
        for kind in CAPTURE_KINDS:
            for seed in range(1, seeds + 1):
                c = synthetic_capture(kind, dance, seed, duration_s=ref.duration_s)
                clip = NodeClip("node1", c.keypoints, c.width, c.height, c.jpegs, c.jpeg_frames)
                report = assess([clip], ref.keypoints, q, dance)
                node = report.nodes[0]
                p, i = node.poses, node.images
                verdict = (
                    "pass"
                    if report.passed
                    else "RETAKE: " + "; ".join(r.split(" (")[0] for r in report.reasons)
                )
                cov = "-" if p is None or p.coverage is None else f"{p.coverage:.2f}"
                row = f"{kind:<11} {dance:<12} {seed:>4}  {cov:>8}"
                if p is not None:
                    row += f"  {p.whole_body:5.2f}  {p.feet:4.2f}  {p.frame_share:5.2f}"
                    row += f"  {p.motion:6.2f}"
                row += f"  {i.sharpness:5.2f}" if i else "      -"
                click.echo(f"{row}  {verdict}")


def _timing(repeats: int, q: CaptureQaSettings) -> None:
    dance = sorted(ROUTINES)[0]
    capture = synthetic_capture("along", dance, 1, duration_s=15.0, jpegs=q.image_samples or 12)
    with tempfile.TemporaryDirectory(prefix="dancebooth-bench-qa-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'db.sqlite'}"
        upgrade_database(url)
        engine = make_engine(url)
        factory = session_factory(engine)
        storage = LocalStorage(Path(tmp) / "store")
        frames = store_capture(storage, factory, "bench-qa", "node1", capture, dance)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            report = assess_session(storage, factory, "bench-qa", q)
            times.append(time.perf_counter() - start)
        engine.dispose()
    click.echo(
        f"capture QA per 15 s session ({frames} frames, {capture.width}x{capture.height}, "
        f"{q.image_samples} JPEGs decoded, dance {dance}): "
        f"median {statistics.median(times):.3f} s, "
        f"max {max(times):.3f} s over {repeats} runs (scoring alone {report.seconds:.3f} s; "
        "the rest is reading the shards)"
    )


@click.command("qa")
@click.option("--seeds", default=3, show_default=True, help="Visitors per kind and dance.")
@click.option("--repeats", default=5, show_default=True, help="Timed runs of a stored session.")
@click.option("--no-scores", is_flag=True, help="Only time a stored session.")
def bench_qa(seeds: int, repeats: int, no_scores: bool) -> None:
    """Capture QA: scores per kind of synthetic visitor, and time per 15 s session."""
    if seeds < 1 or repeats < 1:
        raise click.BadParameter("--seeds and --repeats must be at least 1")
    q = CaptureQaSettings()
    click.echo(
        f"thresholds: coverage >= {q.min_coverage} within {q.match_distance} torso, motion >= "
        f"{q.min_motion}, whole body >= {q.min_whole_body}, feet >= {q.min_feet}, "
        f"sharpness >= {q.min_sharpness}"
    )
    if not no_scores:
        _scores(seeds, q)
    _timing(repeats, q)
