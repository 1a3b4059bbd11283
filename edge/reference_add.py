"""Adding a reference dance from a video, in process: decode (trimmed, resampled, capped),
estimate every person, follow the dancer, repair + smooth, check the quality, keep the
video and the music, write it all at once.

The entry point is :func:`add_reference`; its types and errors are in
:mod:`common.reference_add`. The cloud calls it through
:func:`common.reference_add.run_add` (a ``dancebooth reference add --events`` child
process), because ``cloud`` may not import ``edge``.

Nothing is half-written: every file is written under ``<root>/.adding-<name>-*/`` and the
finished dance directory is renamed into place at the end; any failure (a refusal, a
bad video, a full disk) removes the temporary directory.
"""

from __future__ import annotations

import errno
import logging
import shutil
import tempfile
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.reference import ReferenceDance
from common.reference_add import (
    AddOptions,
    AddProgress,
    AddResult,
    QualityReport,
    ReferenceAddError,
    ReferenceRejected,
)
from edge.frames import Frame
from edge.pose.base import Person, PoseError, PoseEstimator
from edge.reference_audio import music
from edge.reference_keypoints import FloatArray, load_keypoints_file, repair_sequence
from edge.reference_pick import follow
from edge.reference_quality import assess, check_whole_person
from edge.reference_video import H264Writer, Plan, frames, plan, probe
from edge.settings import SmoothingSettings
from protocol.ids import check_id
from protocol.skeleton import EXTRA_FLIP, FLIP, NUM_KEYPOINTS

logger = logging.getLogger(__name__)

MIRROR_VIDEO = "video-mirror.mp4"  # beside the dance directories while they are built


@dataclass
class Built:
    """A dance ready to be written, with its report."""

    dance: ReferenceDance
    report: QualityReport


def add_reference(
    video: Path,
    name: str,
    options: AddOptions,
    progress: AddProgress | None = None,
    *,
    estimator: PoseEstimator | None = None,
) -> AddResult:
    """Build the reference dance ``name`` from ``video`` and store it under
    ``options.root``; return where, with its quality report.

    Raises :class:`~common.reference_add.ReferenceAddError` for a video that cannot be a
    dance (with what to do) and its subclass
    :class:`~common.reference_add.ReferenceRejected` when the quality check refuses it
    (``options.force`` keeps it, marked ``forced``). ``estimator`` overrides
    ``options.backend`` (tests, benchmarks). Nothing is left behind on failure.
    """
    try:
        name = check_id(name, "dance name")
    except ValueError as exc:
        raise ReferenceAddError(str(exc)) from None
    root = Path(options.root)
    names = [name, f"{name}-mirror"] if options.mirror else [name]
    for n in names:
        if (root / n).exists() and not options.replace:
            raise ReferenceAddError(
                f"a dance called {n!r} exists in {root}; pick another name, or replace it "
                "(--replace)"
            )
    if (options.backend == "replay") != (options.keypoints is not None):
        raise ReferenceAddError("--keypoints go with --backend replay (and only with it)")
    report = lambda stage, done, total: progress and progress(stage, done, total)  # noqa: E731
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".adding-{name}-", dir=root))
    except OSError as exc:
        raise _write_error(exc, root) from None
    try:
        built = _build(video, name, options, staging, estimator, report)
        flipped = staging / MIRROR_VIDEO if (staging / MIRROR_VIDEO).exists() else None
        dances = [built.dance, *([mirrored(built.dance, flipped)] if options.mirror else [])]
        report("write", 0, len(dances))
        for d in dances:
            d.save(staging)
        _move_into_place(staging, root, [d.name for d in dances])
        report("write", len(dances), len(dances))
    except PoseError as exc:  # e.g. the backend's models are not installed
        raise ReferenceAddError(str(exc)) from None
    except OSError as exc:
        raise _write_error(exc, root) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    kept = root / name
    return AddResult(
        name=name,
        path=kept,
        report=built.report,
        video=kept / "video.mp4" if (kept / "video.mp4").exists() else None,
        mirror=root / f"{name}-mirror" if options.mirror else None,
    )


def _build(
    video: Path,
    name: str,
    options: AddOptions,
    staging: Path,
    estimator: PoseEstimator | None,
    report: AddProgress,
) -> Built:
    truth = load_keypoints_file(options.keypoints) if options.keypoints else None
    pl = plan(probe(video), options)
    report("probe", 1, 1)
    out = staging / name
    out.mkdir()
    kept = out / "video.mp4" if options.keep_video else None
    mirror = staging / MIRROR_VIDEO if options.keep_video and options.mirror else None
    detections = _estimate(video, pl, truth, estimator or options, (kept, mirror), report)
    if not detections:
        raise ReferenceAddError(f"{video.name}: no frame could be decoded in the chosen span")
    report("check", 0, 0)
    tracked, note = follow(detections, pl.width, pl.height, options.person)
    check_whole_person(tracked)
    kps, extras, mask = repair_sequence(tracked.keypoints, tracked.extras, pl.fps, SMOOTHING)
    quality = assess(
        tracked,
        np.concatenate([kps, extras], axis=1),
        mask,
        pl.fps,
        options.thresholds,
        person_chosen=options.person is not None,
        notes=[*pl.notes, *([note] if note else [])],
    )
    if quality.problems and not options.force:
        raise ReferenceRejected(quality)
    quality.forced = bool(quality.problems)
    track, beat = None, None
    if options.audio:
        report("audio", 0, 1)
        end = pl.start_s + len(kps) / pl.fps
        track, beat, audio_note = music(video, pl.start_s, end, pl.origin_s, out / "music.m4a")
        quality.notes += [audio_note] if audio_note else []
        if beat is not None:
            quality.bpm, quality.first_beat_s = beat.bpm, beat.first_beat_s
        report("audio", 1, 1)
    dance = ReferenceDance(
        name=name,
        title=options.title or name.replace("-", " ").title(),
        bpm=quality.bpm,
        fps=pl.fps,
        width=pl.width,
        height=pl.height,
        keypoints=kps,
        extras=extras,
        audio=track,
        source=f"video {video.name} ({options.backend} backend)",
        metadata={"video": video.name, "backend": options.backend},
        video=out / "video.mp4" if options.keep_video else None,
        first_beat_s=quality.first_beat_s,
        quality=quality.model_dump(mode="json"),
        repaired=mask,
    )
    logger.debug("%s: %s", name, quality.summary().replace("\n", "; "))
    return Built(dance, quality)


SMOOTHING = SmoothingSettings()


def _estimate(
    video: Path,
    pl: Plan,
    truth: FloatArray | None,
    estimator: PoseEstimator | AddOptions,
    keep: tuple[Path | None, Path | None],
    report: AddProgress,
) -> list[list[Person]]:
    """Every person in every frame of the plan; the kept video (and its mirror image)
    written on the way."""
    detections: list[list[Person]] = []
    with _estimator(estimator) as est, ExitStack() as stack:
        writers = [
            stack.enter_context(H264Writer(path, pl.width, pl.height, pl.fps)) if path else None
            for path in keep
        ]
        sx, sy = pl.width / pl.source_size[0], pl.height / pl.source_size[1]
        for i, (src, image) in enumerate(frames(video, pl)):
            frame = Frame(seq=i, capture_ns=round(i / pl.fps * 1e9), image=image)
            if truth is not None:
                _give_truth(frame, truth, src, sx, sy)
            detections.append(est.estimate(frame))
            if writers[0] is not None:
                writers[0].write(image)
            if writers[1] is not None:
                writers[1].write(np.ascontiguousarray(image[:, ::-1]))
            report("pose", i + 1, pl.frames)
    return detections


def _give_truth(frame: Frame, truth: FloatArray, src: int, sx: float, sy: float) -> None:
    """The replay backend's known keypoints for source frame ``src``, scaled like it."""
    if src >= len(truth):
        raise ReferenceAddError(
            f"the keypoints file has {len(truth)} frames but the video has more; "
            "give one row per video frame"
        )
    rows = truth[src] if truth.ndim == 4 else truth[src][None]
    rows = rows * np.array([sx, sy, 1.0], np.float32)
    frame.truth = rows[0, :NUM_KEYPOINTS]
    if rows.shape[1] > NUM_KEYPOINTS:
        frame.truth_extras = rows[0, NUM_KEYPOINTS:]
    frame.truth_others = list(rows[1:]) or None


def _estimator(given: PoseEstimator | AddOptions) -> AbstractContextManager[PoseEstimator]:
    if isinstance(given, PoseEstimator):
        return nullcontext(given)  # the caller's: not closed here
    from edge.pose import create_estimator
    from edge.settings import BlazePoseSettings, ReplaySettings

    if given.backend == "replay":
        return create_estimator(ReplaySettings(noise=False))
    # No person mask: a reference dance keeps keypoints and video, not masks.
    return create_estimator(BlazePoseSettings(person_mask=False))


def mirrored(dance: ReferenceDance, video: Path | None = None) -> ReferenceDance:
    """The dance as in a mirror: x flipped, left and right joints swapped."""
    kps = dance.keypoints.copy()
    kps[:, :, 0] = (dance.width - 1) - kps[:, :, 0]
    extras = dance.extras.copy()
    extras[:, :, 0] = (dance.width - 1) - extras[:, :, 0]
    repaired = None
    if dance.repaired is not None:
        order = [*FLIP, *(NUM_KEYPOINTS + i for i in EXTRA_FLIP)]
        repaired = dance.repaired[:, order]
    return ReferenceDance(
        name=f"{dance.name}-mirror",
        title=f"{dance.title} (mirrored)",
        bpm=dance.bpm,
        fps=dance.fps,
        width=dance.width,
        height=dance.height,
        keypoints=kps[:, list(FLIP)],
        extras=extras[:, list(EXTRA_FLIP)],
        audio=dance.audio,
        metadata={**dance.metadata, "mirror_of": dance.name},
        source=f"{dance.source}, mirrored",
        video=video,
        first_beat_s=dance.first_beat_s,
        quality=dance.quality,
        repaired=repaired,
    )


def _move_into_place(staging: Path, root: Path, names: list[str]) -> None:
    """Rename each finished dance into ``root``; a replaced one goes only once the new one
    is complete (the old directory is moved aside into ``staging``, then deleted)."""
    for n in names:
        final = root / n
        if final.exists():
            final.rename(staging / f".old-{n}")
        (staging / n).rename(final)


def _write_error(exc: OSError, root: Path) -> ReferenceAddError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        free = shutil.disk_usage(root).free // 2**20 if root.exists() else 0
        return ReferenceAddError(
            f"the disk is full while writing the dance under {root} ({free} MB free); "
            "nothing was kept: free some space and add it again"
        )
    return ReferenceAddError(f"cannot write the dance under {root}: {exc}; nothing was kept")


__all__ = ["FloatArray", "add_reference", "mirrored"]
