"""What a rendition is made from: the visitor's clip and the reference dance.

The visitor's clip is read back from the object store + database (every stored frame
of the session, via ``cloud.ingest.reader``) or from a ``[T, 17, 3]`` ``.npy`` file;
the dance from ``reference_videos/`` by name or from a ``.npy`` with its fps and
music. Renditions are stored under the session's prefix
(``sessions/{session}/renditions/{dance}.mp4``), so deleting a visitor's prefix
deletes their videos too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.ingest.plates import load_plate
from cloud.ingest.reader import iter_session_frames_masked
from cloud.render.composite import median_background
from cloud.storage import Storage
from common.reference import ReferenceDance, load_reference
from protocol.ids import check_id
from protocol.shards import session_prefix
from protocol.skeleton import NUM_KEYPOINTS

Keypoints = npt.NDArray[np.float32]


class InputError(ValueError):
    """A visitor clip or dance that cannot be rendered from; the message says why."""


BACKGROUND_SAMPLES = 15  # frames whose median stands in for a missing clean plate


@dataclass(frozen=True)
class VisitorClip:
    keypoints: Keypoints  # [T, 17, 3] in capture pixels
    width: int
    height: int
    node: str = ""
    samples: tuple[bytes, ...] = ()  # JPEGs spread over the clip, for a median background
    fps: float | None = None  # the camera's frame rate, from the frames' capture times
    # Per sample: its index in ``keypoints`` and its person mask (None where none came).
    sample_index: tuple[int, ...] = ()
    sample_masks: tuple[npt.NDArray[np.uint8] | None, ...] = ()

    def decoded_samples(self) -> list[npt.NDArray[np.uint8] | None]:
        """The samples as BGR images at the clip's size (None where one does not decode)."""
        out: list[npt.NDArray[np.uint8] | None] = []
        for jpeg in self.samples:
            img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            ok = img is not None and img.shape[:2] == (self.height, self.width)
            out.append(np.asarray(img, np.uint8) if ok else None)
        return out

    def median_background(self) -> npt.NDArray[np.uint8] | None:
        """The empty booth as the clip's frames show it (their per-pixel median), if any."""
        images = [img for img in self.decoded_samples() if img is not None]
        return median_background(np.stack(images)) if images else None


@dataclass(frozen=True)
class Dance:
    name: str
    keypoints: Keypoints  # [T, 17, 3]
    fps: float
    music: Path | None
    title: str = ""
    video: Path | None = None  # the reference performer's own video, if the dance has one


def rendition_key(session: str, dance: str) -> str:
    """Object-store key of a session's rendition of ``dance``."""
    return f"{session_prefix(session)}renditions/{check_id(dance, 'dance name')}.mp4"


def _check(kps: npt.ArrayLike, what: str) -> Keypoints:
    arr = np.asarray(kps, dtype=np.float32)
    if arr.ndim != 3 or arr.shape[1:] != (NUM_KEYPOINTS, 3) or len(arr) == 0:
        raise InputError(f"{what}: need [T, {NUM_KEYPOINTS}, 3] keypoints, got {arr.shape}")
    return arr


def clip_from_store(
    storage: Storage, factory: sessionmaker[Db], session: str, node: str | None = None
) -> VisitorClip:
    """The session's keypoints from one node (``node``, or the one with most frames)."""
    frames = list(iter_session_frames_masked(storage, factory, session, node))
    if not frames:
        where = f" from node {node}" if node else ""
        raise InputError(f"session {session} has no stored frames{where}; was it captured?")
    counts = Counter(m.node for m, _, _ in frames)
    chosen = node or counts.most_common(1)[0][0]
    metas = [m for m, _, _ in frames if m.node == chosen]
    sizes = {(m.width, m.height) for m in metas}
    if len(sizes) != 1:
        raise InputError(f"session {session}/{chosen} changed frame size mid-clip: {sizes}")
    (width, height) = sizes.pop()
    kps = np.stack([m.keypoints_array() for m in metas])
    mine = [(j, mask) for m, j, mask in frames if m.node == chosen]
    picks = [
        int(i) for i in np.linspace(0, len(mine) - 1, min(BACKGROUND_SAMPLES, len(mine))).round()
    ]
    fps = camera_fps([m.capture_ns for m in metas])
    return VisitorClip(
        _check(kps, f"session {session}"),
        width,
        height,
        chosen,
        tuple(mine[i][0] for i in picks),
        fps,
        tuple(picks),
        tuple(mine[i][1] for i in picks),
    )


def camera_fps(capture_ns: list[int]) -> float | None:
    """The frame rate of frames captured at these times: one over the median interval
    (a dropped frame doubles one interval, not the median); None below 2 frames or
    outside 5-120 fps (no camera's: times that were not a capture's)."""
    times = np.sort(np.asarray(capture_ns, dtype=np.int64))
    steps = np.diff(times)
    steps = steps[steps > 0]
    if len(steps) == 0:
        return None
    fps = 1e9 / float(np.median(steps))
    return round(fps, 3) if 5.0 <= fps <= 120.0 else None


def resample_dance(dance: Dance, fps: float) -> Dance:
    """``dance`` at another frame rate: keypoints interpolated linearly in time (a joint's
    confidence is the lower of its two neighbours'), music and video unchanged (they are
    timed in seconds)."""
    if fps <= 0 or abs(fps - dance.fps) < 1e-3:
        return dance
    kps = dance.keypoints
    n = max(1, round(len(kps) * fps / dance.fps))
    t = np.arange(n) * dance.fps / fps
    i0 = np.clip(np.floor(t).astype(int), 0, len(kps) - 1)
    i1 = np.clip(i0 + 1, 0, len(kps) - 1)
    w = (t - i0).astype(np.float32)[:, None, None]
    out = kps[i0] * (1 - w) + kps[i1] * w
    out[..., 2] = np.minimum(kps[i0, :, 2], kps[i1, :, 2])
    return replace(dance, keypoints=out.astype(np.float32), fps=float(fps))


def plate_from_store(
    storage: Storage, factory: sessionmaker[Db], session: str, node: str | None = None
) -> npt.NDArray[np.uint8] | None:
    """The clean plate the rendition is composited over: ``node``'s plate for the session
    (H x W x 3 BGR at the camera's resolution), or None (see
    :func:`cloud.ingest.plates.load_plate`)."""
    return load_plate(storage, factory, session, node)


def clip_from_file(path: Path, width: int, height: int) -> VisitorClip:
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not a .npy array: {exc}") from None
    return VisitorClip(_check(arr, str(path)), width, height)


def dance_by_name(name: str) -> Dance:
    return dance_from_reference(load_reference(name))


def dance_from_reference(ref: ReferenceDance) -> Dance:
    return Dance(
        ref.name, _check(ref.keypoints, ref.name), float(ref.fps), ref.audio, ref.title, ref.video
    )


def dance_from_file(path: Path, fps: float, music: Path | None, name: str = "") -> Dance:
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not a .npy array: {exc}") from None
    return Dance(name or path.stem, _check(arr, str(path)), fps, music)
