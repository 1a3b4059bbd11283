"""The booth-scene corpus: rendered staff dancers (to pre-train the booth checkpoint) and
held-out visitors, written in the protocol's shard format so the trainer reads them
exactly as it reads uploaded captures.

Layout under the output directory ``DIR``::

    DIR/corpus.json                                   the index (sessions, roles, seeds)
    DIR/sessions/<session>/<node>/shard-000000.tar    one shard per session (shard_key)

Every visitor also gets a *transfer* session (``visitor-NNNN-transfer``, role
``transfer``): the same body and looks dancing a routine from the move vocabulary that
they never danced in their own clip. It is what the product renders (the visitor in a
reference dance), so it measures how a fine-tune generalises to new poses, which the
held-out frames of the visitor's own clip (near-duplicates of training frames) cannot.

Every frame carries the renderer's exact person mask (``NNNNNN.mask.png``, see
:mod:`protocol.shards`). Each frame's ``FrameMeta.truth`` holds the ground-truth
keypoints (visibility 0/1); ``FrameMeta.keypoints`` holds either the same truth
(``keypoints="truth"``, the default) or what the ``replay`` backend would report
through the noise model (``keypoints="noisy"``); the index says which.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final, Literal

import cv2
import numpy as np

from edge.synthetic.noise import NoiseModel
from edge.synthetic.visitor import SyntheticVisitor, make_staff, make_visitor
from protocol.shards import FrameMeta, ShardWriter, shard_key

CORPUS_FORMAT: Final = 1
NODE: Final = "node1"
STAFF_SEED_BASE: Final = 10_000  # seed ranges kept apart so visitors stay held out
VISITOR_SEED_BASE: Final = 20_000
TRANSFER_SEED_BASE: Final = 30_000  # the routines visitors' transfer sessions dance
KeypointSource = Literal["truth", "noisy"]
Progress = Callable[[int], None]  # called with the number of frames just written


@dataclass(frozen=True)
class CorpusSession:
    session: str
    role: Literal["staff", "visitor", "transfer"]
    seed: int
    shard: str  # path relative to the corpus directory
    frames: int
    width: int
    height: int
    fps: float


@dataclass(frozen=True)
class Corpus:
    root: Path
    resolution: int
    fps: float
    duration_s: float
    keypoints: KeypointSource
    sessions: tuple[CorpusSession, ...]

    def shard_path(self, s: CorpusSession) -> Path:
        return self.root / s.shard

    def by_role(self, role: str) -> list[CorpusSession]:
        return [s for s in self.sessions if s.role == role]


def _meta(
    session: str,
    seq: int,
    capture_ns: int,
    size: tuple[int, int],
    kps: np.ndarray,
    extras: np.ndarray,
    truth: np.ndarray,
) -> FrameMeta:
    def pts(a: np.ndarray) -> list[tuple[float, float, float]]:
        return [(float(x), float(y), float(c)) for x, y, c in a]

    return FrameMeta(
        session=session,
        node=NODE,
        seq=seq,
        capture_ns=capture_ns,
        ready_ns=capture_ns,
        width=size[0],
        height=size[1],
        keypoints=pts(kps),
        extras=pts(extras),
        truth=pts(truth),
    )


def write_session(
    dancer: SyntheticVisitor,
    session: str,
    root: Path,
    *,
    resolution: int,
    fps: float,
    duration_s: float,
    keypoints: KeypointSource,
    noise: NoiseModel,
    jpeg_quality: int = 90,
    progress: Progress | None = None,
) -> int:
    """Render one dancer into its shard (written to a temporary name, then renamed)."""
    path = root / shard_key(session, NODE, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tar.part")
    stream = noise.stream(dancer.seed)
    count = 0
    with ShardWriter(tmp) as writer:
        for frame in dancer.frames(resolution, resolution, fps, duration_s, masks=True):
            assert frame.truth is not None and frame.truth_extras is not None
            if keypoints == "noisy":
                kps, extras = stream(frame.truth), stream.extras(frame.truth_extras)
            else:
                kps, extras = frame.truth, frame.truth_extras
            ok, jpeg = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
            if not ok:
                raise RuntimeError(f"JPEG encoding failed for {session} frame {frame.seq}")
            size = (frame.width, frame.height)
            meta = _meta(session, frame.seq, frame.capture_ns, size, kps, extras, frame.truth)
            writer.add(meta, jpeg.tobytes(), frame.truth_mask)
            count += 1
            if progress is not None:
                progress(1)
    os.replace(tmp, path)
    return count


def write_corpus(
    out: str | Path,
    *,
    staff: int,
    visitors: int,
    resolution: int = 256,
    fps: float = 30.0,
    duration_s: float = 15.0,
    keypoints: KeypointSource = "truth",
    noise: NoiseModel | None = None,
    jpeg_quality: int = 90,
    progress: Progress | None = None,
) -> Corpus:
    """Render ``staff`` staff dancers and ``visitors`` held-out visitors into ``out``."""
    if staff < 0 or visitors < 0 or staff + visitors == 0:
        raise ValueError("ask for at least one staff dancer or visitor")
    if keypoints not in ("truth", "noisy"):
        raise ValueError(f"keypoints must be 'truth' or 'noisy', not {keypoints!r}")
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    model = noise or NoiseModel()
    plan: list[tuple[str, Literal["staff", "visitor", "transfer"], int]] = [
        *((f"staff-{i:04d}", "staff", STAFF_SEED_BASE + i) for i in range(staff)),
        *((f"visitor-{i:04d}", "visitor", VISITOR_SEED_BASE + i) for i in range(visitors)),
        *(
            (f"visitor-{i:04d}-transfer", "transfer", VISITOR_SEED_BASE + i)
            for i in range(visitors)
        ),
    ]
    sessions = []
    for session, role, seed in plan:
        dancer = make_staff(seed, duration_s) if role == "staff" else make_visitor(seed, duration_s)
        if role == "transfer":
            dance = make_staff(TRANSFER_SEED_BASE + seed - VISITOR_SEED_BASE, duration_s)
            dancer = SyntheticVisitor(
                shape=dancer.shape,
                choreography=dance.choreography,
                appearance=dancer.appearance,
                seed=seed,
                freestyle=False,
            )
        n = write_session(
            dancer,
            session,
            root,
            resolution=resolution,
            fps=fps,
            duration_s=duration_s,
            keypoints=keypoints,
            noise=model,
            jpeg_quality=jpeg_quality,
            progress=progress,
        )
        sessions.append(
            CorpusSession(
                session, role, seed, shard_key(session, NODE, 0), n, resolution, resolution, fps
            )
        )
    corpus = Corpus(root, resolution, fps, duration_s, keypoints, tuple(sessions))
    index: dict[str, Any] = {
        "format": CORPUS_FORMAT,
        "resolution": resolution,
        "fps": fps,
        "duration_s": duration_s,
        "keypoints": keypoints,
        "noise": model.model_dump() if keypoints == "noisy" else None,
        "node": NODE,
        "sessions": [asdict(s) for s in sessions],
    }
    (root / "corpus.json").write_text(json.dumps(index, indent=2) + "\n")
    return corpus


def frames_planned(staff: int, visitors: int, fps: float, duration_s: float) -> int:
    return (staff + 2 * visitors) * max(1, round(fps * duration_s))  # visitors: + transfer


def load_corpus(root: str | Path) -> Corpus:
    """Read ``root/corpus.json``; every listed shard must exist."""
    base = Path(root)
    try:
        index = json.loads((base / "corpus.json").read_text())
        if index.get("format") != CORPUS_FORMAT:
            raise ValueError(f"format {index.get('format')!r}, expected {CORPUS_FORMAT}")
        sessions = tuple(CorpusSession(**s) for s in index["sessions"])
        corpus = Corpus(
            base,
            int(index["resolution"]),
            float(index["fps"]),
            float(index["duration_s"]),
            index["keypoints"],
            sessions,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{base / 'corpus.json'} is not a readable corpus index: {exc}") from None
    missing = [s.shard for s in sessions if not corpus.shard_path(s).is_file()]
    if missing:
        raise ValueError(f"corpus {base} is missing shards: {', '.join(missing[:3])}")
    return corpus
