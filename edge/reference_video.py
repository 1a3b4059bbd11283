"""The source video of a reference dance, read with PyAV: probed (not a video? too long?
variable frame rate?), trimmed, resampled to a constant rate no faster than the booth's
and scaled to at most 720p, and kept as H.264 beside the keypoints.

One decode feeds both the pose backend and the kept video, so video frame ``i`` is
keypoint row ``i``. Resampling picks, for each output time, the source frame shown at
that moment: a 120 fps video keeps every fourth frame, a variable-rate phone video
becomes constant-rate without drifting from its music.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from common.reference_add import AddOptions, ReferenceAddError

Image = npt.NDArray[np.uint8]
VFR_SPREAD = 0.25  # frame intervals varying by more than this (relative) = variable rate


@dataclass
class Probe:
    """What the container says, checked by demuxing every video packet (no decoding)."""

    fps: float  # average
    width: int
    height: int
    duration_s: float
    frames: int
    variable_rate: bool
    has_audio: bool
    origin_s: float = 0.0  # the first video frame's time: trims count from here


@dataclass
class Plan:
    """What will be read: the trimmed span, the output rate and size, and why."""

    start_s: float
    end_s: float
    fps: float
    width: int
    height: int
    source_size: tuple[int, int]
    notes: list[str] = field(default_factory=list)
    origin_s: float = 0.0

    @property
    def frames(self) -> int:
        return max(0, math.ceil((self.end_s - self.start_s) * self.fps - 1e-6))


def _open(path: Path) -> Any:
    import av

    try:
        return av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise ReferenceAddError(
            f"{path.name}: not a video PyAV can read ({exc.__class__.__name__}); "
            "export it as MP4 (H.264) and try again"
        ) from None


def probe(path: Path) -> Probe:
    with _open(path) as c:
        if not c.streams.video:
            raise ReferenceAddError(f"{path.name}: has no video track; is it a video file?")
        v = c.streams.video[0]
        times = sorted(
            float(p.pts * p.time_base) for p in c.demux(v) if p.pts is not None and p.size
        )
        width, height = v.codec_context.width, v.codec_context.height
        has_audio = bool(c.streams.audio)
    if len(times) < 2 or not width or not height:
        raise ReferenceAddError(f"{path.name}: has fewer than two video frames")
    steps = np.diff(times)
    median = float(np.median(steps))
    if median <= 0:
        raise ReferenceAddError(f"{path.name}: the video's timestamps do not advance")
    spread = float(np.percentile(steps, 95) - np.percentile(steps, 5)) / median
    duration = times[-1] - times[0] + median
    return Probe(
        fps=(len(times)) / duration,
        width=width,
        height=height,
        duration_s=duration,
        frames=len(times),
        variable_rate=spread > VFR_SPREAD,
        has_audio=has_audio,
        origin_s=times[0],
    )


def _even(x: float) -> int:
    return max(2, round(x / 2) * 2)


def plan(p: Probe, options: AddOptions) -> Plan:
    """The span, rate and size to read, or a clear error for what cannot be read."""
    start = options.start_s or 0.0
    end = min(options.end_s, p.duration_s) if options.end_s is not None else p.duration_s
    if start >= p.duration_s:
        raise ReferenceAddError(
            f"--start {start:g} s is past the end of the {p.duration_s:.1f} s video"
        )
    if end <= start:
        raise ReferenceAddError(f"--end {end:g} s must come after --start {start:g} s")
    if end - start > options.max_duration_s:
        raise ReferenceAddError(
            f"the video is {end - start:.0f} s long; the cap is {options.max_duration_s:g} s: "
            "trim it to the dance with --start/--end (or raise --max-duration)"
        )
    notes = []
    if options.start_s or options.end_s is not None:
        notes.append(f"trimmed to {start:.2f}–{end:.2f} s of {p.duration_s:.1f} s")
    fps = round(p.fps, 3)
    if p.variable_rate:
        fps = min(round(p.fps), options.max_fps)
        notes.append(
            f"variable frame rate (about {p.fps:.1f} fps): resampled to a constant {fps:g} fps"
        )
    elif p.fps > options.max_fps + 0.5:
        fps = options.max_fps
        notes.append(f"{p.fps:.0f} fps resampled to {fps:g} fps")
    scale = min(1.0, options.max_height / min(p.width, p.height))
    width, height = _even(p.width * scale), _even(p.height * scale)
    if scale < 1.0:
        notes.append(f"{p.width}x{p.height} scaled to {width}x{height}")
    return Plan(start, end, fps, width, height, (p.width, p.height), notes, p.origin_s)


def frames(path: Path, pl: Plan) -> Iterator[tuple[int, Image]]:
    """``(source frame index, BGR image)`` for each output frame of the plan, in order:
    for each output time, the source frame nearest to it (a frame is converted only if
    shown, once however often)."""
    targets = (pl.start_s + k / pl.fps for k in range(pl.frames))
    target = next(targets, None)
    prev: _Shown | None = None
    with _open(path) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(c.decode(stream)):
            if target is None:
                return
            t = (float(frame.time) if frame.time is not None else index / pl.fps) - pl.origin_s
            # Emit the previous frame for every target closer to it than to this one.
            while prev is not None and target is not None and target < (prev.t + t) / 2:
                yield prev.index, prev.image(pl)
                target = next(targets, None)
            prev = _Shown(index, t, frame)
        while prev is not None and target is not None:
            yield prev.index, prev.image(pl)
            target = next(targets, None)


class _Shown:
    """A decoded frame that may be shown: converted (scaled, BGR) on first use."""

    def __init__(self, index: int, t: float, frame: Any) -> None:
        self.index, self.t, self._frame = index, t, frame
        self._image: Image | None = None

    def image(self, pl: Plan) -> Image:
        if self._image is None:
            self._image = self._frame.to_ndarray(format="bgr24", width=pl.width, height=pl.height)
        return self._image


class H264Writer:
    """The kept video: H.264, yuv420p, constant rate, faststart, no audio. Leaving the
    context with an exception removes the partial file."""

    def __init__(self, path: Path, width: int, height: int, fps: float) -> None:
        import av

        self.path = path
        self._out = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        rate = round(fps * 1000) / 1000
        self._video = self._out.add_stream("libx264", rate=_fraction(rate))
        self._video.width, self._video.height, self._video.pix_fmt = width, height, "yuv420p"
        # superfast: 27 ms a 720p frame on one core here against veryfast's 38 (as long as
        # the pose itself), for files about twice the size; one thread leaves the other
        # core to the pose backend.
        self._video.options = {"crf": "23", "preset": "superfast", "threads": "1"}
        self._n = 0

    def write(self, image: Image) -> None:
        import av

        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        vf.pts = self._n
        self._n += 1
        self._out.mux(self._video.encode(vf))

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                self._out.mux(self._video.encode(None))
        finally:
            self._out.close()
            if kind is not None:
                self.path.unlink(missing_ok=True)


def _fraction(rate: float) -> Any:
    from fractions import Fraction

    return Fraction(rate).limit_denominator(1001)
