"""Building a reference dance from a real video: decode, estimate, follow the dancer,
repair and smooth offline, store with the video's music.

The frames are decoded with OpenCV; a pose backend (``edge.pose.create_estimator``)
runs on each one and :class:`~edge.pose.tracking.FollowDancer` keeps to the dancer when
others are in view. The whole sequence is then repaired and smoothed with zero lag
(:func:`~edge.smoothing.repair_and_smooth`), and saved as an
:class:`~common.reference.ReferenceDance` (an editable CSV of keypoints + ``dance.json``)
with the video's audio track transcoded to AAC (``music.m4a``) by PyAV.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.frames import Frame
from edge.pose.base import PoseEstimator
from edge.settings import SmoothingSettings
from edge.smoothing import repair_and_smooth
from protocol.skeleton import NUM_EXTRA_KEYPOINTS, NUM_KEYPOINTS

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
Progress = Callable[[int, int], None]  # (frames done, frames expected; 0 if unknown)


class ReferenceBuildError(RuntimeError):
    """The video cannot become a reference dance; the message says why and what to do."""


@dataclass
class VideoInfo:
    fps: float
    width: int
    height: int
    frames: int  # as the container reports it (may be an estimate)


@dataclass
class Estimated:
    """The dancer's raw keypoints over the video, before repair."""

    keypoints: FloatArray  # [T, 17, 3]
    extras: FloatArray  # [T, 4, 3] (confidence 0 where the backend gives none)
    missing: int  # frames where no dancer was found
    people_max: int  # most people seen in one frame


def probe_video(path: Path) -> VideoInfo:
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise ReferenceBuildError(f"{path}: cannot open as a video (is it a video file?)")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        cap.release()
    if not 0 < fps <= 240:
        raise ReferenceBuildError(f"{path}: the video states no usable frame rate ({fps})")
    return VideoInfo(fps, w, h, max(n, 0))


def read_frames(path: Path, fps: float, truth: FloatArray | None = None) -> Iterator[Frame]:
    """The video's frames (BGR) in order; with ``truth`` ``[T, 17|21, 3]``, each frame
    carries its row as known keypoints (for the ``replay`` backend)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        seq = 0
        while True:
            ok, image = cap.read()
            if not ok:
                break
            pixels = np.asarray(image, dtype=np.uint8)
            frame = Frame(seq=seq, capture_ns=round(seq / fps * 1e9), image=pixels)
            if truth is not None:
                if seq >= len(truth):
                    raise ReferenceBuildError(
                        f"the keypoints file has {len(truth)} frames but the video has more; "
                        "give one row per video frame"
                    )
                frame.truth = truth[seq, :NUM_KEYPOINTS]
                if truth.shape[1] > NUM_KEYPOINTS:
                    frame.truth_extras = truth[seq, NUM_KEYPOINTS:]
            yield frame
            seq += 1
    finally:
        cap.release()


def estimate_dancer(
    frames: Iterator[Frame],
    estimator: PoseEstimator,
    progress: Progress | None = None,
    expected: int = 0,
) -> Estimated:
    """Run the backend on every frame and keep the dancer (unseen frames: confidence 0)."""
    from edge.pose.tracking import FollowDancer

    follow = FollowDancer(estimator)
    follow.reset()
    kps: list[FloatArray] = []
    extras: list[FloatArray] = []
    missing = people_max = 0
    for frame in frames:
        chosen = follow(frame)
        people_max = max(people_max, chosen.people_seen)
        row = np.zeros((NUM_KEYPOINTS, 3), np.float32)
        ext = np.zeros((NUM_EXTRA_KEYPOINTS, 3), np.float32)
        if chosen.person is None:
            missing += 1
        else:
            row = np.asarray(chosen.person.keypoints, np.float32)
            if len(chosen.person.extras) == NUM_EXTRA_KEYPOINTS:
                ext = np.asarray(chosen.person.extras, np.float32)
        kps.append(row)
        extras.append(ext)
        if progress is not None:
            progress(len(kps), expected)
    if not kps:
        raise ReferenceBuildError("the video has no frames that could be decoded")
    if missing == len(kps):
        raise ReferenceBuildError("no dancer was found in any frame; check the video/backend")
    return Estimated(np.stack(kps), np.stack(extras), missing, people_max)


def clean(
    est: Estimated, fps: float, settings: SmoothingSettings, max_guess_s: float = 1.0
) -> tuple[FloatArray, FloatArray, float]:
    """Repair then smooth the whole sequence: keypoints, extras, fraction imputed."""
    has_extras = bool((est.extras[:, :, 2] > 0).any())
    joints = np.concatenate([est.keypoints, est.extras], axis=1) if has_extras else est.keypoints
    smoothed, imputed = repair_and_smooth(joints, fps, settings=settings)
    out = smoothed.astype(np.float32)
    out[:, :, 2] = np.clip(np.where(imputed, settings.imputed_confidence, out[:, :, 2]), 0, 1)
    out[:, :, 2] = _gap_confidence(out[:, :, 2], imputed, round(max_guess_s * fps))
    extras = out[:, NUM_KEYPOINTS:] if has_extras else np.zeros_like(est.extras)
    return out[:, :NUM_KEYPOINTS], extras, float(imputed.mean())


def _gap_confidence(
    conf: FloatArray, imputed: npt.NDArray[np.bool_], max_frames: int
) -> FloatArray:
    """Visibility of imputed joints: no more than the observations around the gap, and 0
    past ``max_frames`` (guessed, not repaired: as an operator marks a joint they cannot
    place)."""
    out = conf.copy()
    frames = len(conf)
    for j in range(conf.shape[1]):
        padded = np.concatenate([[False], imputed[:, j], [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(padded))
        for start, end in zip(edges[::2], edges[1::2], strict=True):
            if end - start > max_frames:
                out[start:end, j] = 0.0
                continue
            around = [conf[k, j] for k in (start - 1, end) if 0 <= k < frames]
            out[start:end, j] = np.minimum(conf[start:end, j], max(around, default=0.0))
    return out


def extract_audio(video: Path, target: Path) -> Path | None:
    """The video's first audio track as AAC in ``target`` (.m4a); ``None`` if it has none.

    AAC is copied as is; anything else is transcoded.
    """
    try:
        import av
    except ImportError:
        raise ReferenceBuildError(
            "the video's audio needs PyAV: pip install av (or 'dancebooth[cloud]'), "
            "or pass --no-audio"
        ) from None
    with av.open(str(video)) as src:
        streams = [s for s in src.streams if s.type == "audio"]
        if not streams:
            return None
        audio = streams[0]
        with av.open(str(target), "w", format="mp4") as dst:
            if audio.codec_context.name == "aac":
                _copy_audio(src, dst, audio)
            else:
                _transcode_audio(src, dst, audio)
    return target


def _copy_audio(src: Any, dst: Any, audio: Any) -> None:
    out = dst.add_stream_from_template(audio)
    for packet in src.demux(audio):
        if packet.dts is None:  # the demuxer's flush packet
            continue
        packet.stream = out
        dst.mux(packet)


def _transcode_audio(src: Any, dst: Any, audio: Any) -> None:
    rate = audio.codec_context.sample_rate or 44100
    out = dst.add_stream("aac", rate=rate)
    out.bit_rate = 128_000
    for frame in src.decode(audio):
        frame.pts = None  # let the encoder count samples
        for packet in out.encode(frame):
            dst.mux(packet)
    for packet in out.encode(None):
        dst.mux(packet)


def build_reference(
    video: Path,
    name: str,
    estimator: PoseEstimator,
    backend: str,
    *,
    root: Path,
    title: str | None = None,
    keypoints: FloatArray | None = None,
    settings: SmoothingSettings | None = None,
    audio: bool = True,
    progress: Progress | None = None,
) -> Path:
    """Build and save the reference dance ``name`` from ``video``; returns its directory."""
    from common.reference import ReferenceDance

    info = probe_video(video)
    s = settings or SmoothingSettings()
    frames = read_frames(video, info.fps, keypoints)
    est = estimate_dancer(frames, estimator, progress, info.frames)
    kps, extras, imputed = clean(est, info.fps, s)
    logger.info(
        "%s: %d frames, %.1f%% joints imputed, %d without a dancer",
        video,
        len(kps),
        100 * imputed,
        est.missing,
    )
    with tempfile.TemporaryDirectory() as tmp:
        music = extract_audio(video, Path(tmp) / "music.m4a") if audio else None
        dance = ReferenceDance(
            name=name,
            title=title or name.replace("-", " ").title(),
            bpm=None,
            fps=info.fps,
            width=info.width,
            height=info.height,
            keypoints=kps,
            extras=extras,
            audio=music,
            source=f"video {video.name} ({backend} backend)",
            metadata={
                "video": video.name,
                "backend": backend,
                "imputed_fraction": round(imputed, 4),
                "frames_without_dancer": est.missing,
                "people_max": est.people_max,
                "smoothing": s.model_dump(),
            },
        )
        return Path(dance.save(root))


def load_keypoints_file(path: Path) -> FloatArray:
    """Keypoints for the ``replay`` backend: a ``.npy`` ``[T, 17|21, 3]`` array or a
    reference dance (its directory or ``dance.json``)."""
    if path.suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ReferenceBuildError(f"{path}: cannot read as a .npy array: {exc}") from None
    else:
        from common.reference import ReferenceDanceError, load_reference

        target = path.parent if path.name == "dance.json" else path
        try:
            dance = load_reference(target)
        except ReferenceDanceError as exc:
            raise ReferenceBuildError(str(exc)) from None
        arr = np.concatenate([dance.keypoints, dance.extras], axis=1)
    arr = np.asarray(arr, dtype=np.float32)
    joints = (NUM_KEYPOINTS, NUM_KEYPOINTS + NUM_EXTRA_KEYPOINTS)
    if arr.ndim != 3 or arr.shape[1] not in joints or arr.shape[2] != 3 or len(arr) == 0:
        raise ReferenceBuildError(f"{path}: expected keypoints [T, 17 or 21, 3], got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ReferenceBuildError(f"{path}: keypoints must be finite numbers")
    return arr
